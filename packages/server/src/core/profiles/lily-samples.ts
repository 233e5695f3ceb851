/** The Lily Media AI guide's sample `data` for each of its ten event types (sent by the test route). */
export const LILY_SAMPLES: Record<string, Record<string, unknown>> = {
  'post.published': {
    post_id: 'post_def456', platform: 'instagram', platform_post_id: '18234567890123456', published_at: '2024-09-07T14:30:00Z',
    engagement: { likes: 0, comments: 0, shares: 0 }, post_url: 'https://instagram.com/p/ABC123DEF456',
  },
  'post.failed': {
    post_id: 'post_ghi789', platform: 'twitter', error_code: 'media_upload_failed', error_message: 'Image file too large',
    retry_count: 3, will_retry: false, next_retry_at: null,
  },
  'post.scheduled': {
    post_id: 'post_jkl012', platforms: ['instagram', 'twitter'], scheduled_for: '2024-09-08T09:00:00Z',
    content_preview: 'Monday Motivation: Start your week with...', media_count: 1,
  },
  'content.generated': {
    generation_id: 'gen_mno345', prompt: 'Create a motivational Monday post', platform: 'instagram',
    content: 'Monday Motivation 💪\n\nStart your week with intention!...',
    metadata: { character_count: 187, hashtag_count: 3, emoji_count: 2, tone: 'professional', estimated_engagement: 125 },
  },
  'content.generation_failed': {
    generation_id: 'gen_pqr678', prompt: 'Create inappropriate content...', error_code: 'content_policy_violation',
    error_message: 'Content violates usage policy', policy_violation_type: 'inappropriate_content',
  },
  'image.generated': {
    generation_id: 'img_stu901', prompt: 'Professional workspace with laptop and coffee', image_url: 'https://cdn.lily-media.ai/images/stu901.jpg',
    alt_text: 'Modern workspace with open laptop and coffee cup', dimensions: { width: 1024, height: 1024 }, style: 'professional', generation_time_ms: 3500,
  },
  'connection.health_changed': {
    connection_id: 'conn_vwx234', platform: 'instagram', previous_status: 'healthy', current_status: 'degraded', error_count: 5,
    last_error: 'rate_limit_exceeded', last_successful_request: '2024-09-07T12:15:00Z', suggested_action: 'wait_and_retry',
  },
  'connection.disconnected': {
    connection_id: 'conn_yza567', platform: 'twitter', reason: 'token_revoked', disconnected_at: '2024-09-07T14:30:00Z',
    reconnect_url: 'https://api.lily-media.ai/api/integrations/connect?platform=twitter',
  },
  'analytics.report_ready': {
    report_id: 'rpt_bcd890', report_type: 'monthly_summary', period: { start: '2024-08-01T00:00:00Z', end: '2024-08-31T23:59:59Z' },
    download_url: 'https://api.lily-media.ai/api/analytics/reports/rpt_bcd890/download', expires_at: '2024-09-14T14:30:00Z',
  },
  'account.quota_warning': {
    quota_type: 'content_generations', limit: 1000, used: 850, remaining: 150, percentage_used: 85,
    reset_date: '2024-10-01T00:00:00Z', upgrade_url: 'https://lily-media.ai/upgrade',
  },
};
