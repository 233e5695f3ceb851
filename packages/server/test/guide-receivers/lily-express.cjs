// The Lily Media AI guide's Node.js (Express) receiver, as printed in
// shared/seeds/lily-media-webhooks-guide.txt ("Signature Verification → Node.js (Express)"),
// with only the secret changed (it comes from the caller) and the port chosen by the test.
// The timestamp check is the guide's `validate_timestamp` (300 s tolerance), in JavaScript.
const crypto = require('crypto');
const express = require('express');

module.exports = function start(WEBHOOK_SECRET, onEvent) {
  const app = express();
  app.use(express.raw({type: 'application/json'}));

  function verifyWebhookSignature(payload, signature, secret) {
      if (!signature) return false;

      const expectedSignature = crypto
          .createHmac('sha256', secret)
          .update(payload)
          .digest('hex');

      const providedSignature = signature.split('=')[1];

      return crypto.timingSafeEqual(
          Buffer.from(expectedSignature, 'hex'),
          Buffer.from(providedSignature, 'hex')
      );
  }

  function validateTimestamp(timestampHeader, tolerance = 300) {
      const timestamp = parseInt(timestampHeader, 10);
      if (Number.isNaN(timestamp)) return false;
      const currentTime = Math.floor(Date.now() / 1000);
      return Math.abs(currentTime - timestamp) <= tolerance;
  }

  app.post('/webhooks/lily-media', (req, res) => {
      const signature = req.get('X-Lily-Signature');

      if (!validateTimestamp(req.get('X-Lily-Timestamp'))) {
          return res.status(401).json({ error: 'Invalid timestamp' });
      }

      if (!verifyWebhookSignature(req.body, signature, WEBHOOK_SECRET)) {
          return res.status(401).send('Invalid signature');
      }

      const eventData = JSON.parse(req.body);
      onEvent(eventData, req.headers);

      res.status(200).send('OK');
  });

  return new Promise((resolve) => {
      const server = app.listen(0, '127.0.0.1', () => resolve({ port: server.address().port, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) }));
  });
};
