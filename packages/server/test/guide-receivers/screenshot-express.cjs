// The Screenshot API guide's Node.js receiver (shared/seeds/screenshot-api-webhooks-guide.txt,
// "HMAC Validation (Your Server) → JavaScript/Node.js"): `validateWebhook` with
// crypto.timingSafeEqual behind `express.raw`, with only the secret and port supplied by the test.
const crypto = require('crypto');
const express = require('express');

module.exports = function start(WEBHOOK_SECRET, onEvent) {
  const app = express();

  function validateWebhook(payload, signature, secret) {
    const expectedSignature = crypto
      .createHmac('sha256', secret)
      .update(payload, 'utf8')
      .digest('hex');

    const receivedSignature = signature.replace('sha256=', '');

    return crypto.timingSafeEqual(
      Buffer.from(expectedSignature, 'hex'),
      Buffer.from(receivedSignature, 'hex')
    );
  }

  app.post('/webhooks', express.raw({type: 'application/json'}), (req, res) => {
    const signature = req.headers['x-webhook-signature-256'];
    const payload = req.body;

    if (!validateWebhook(payload, signature, WEBHOOK_SECRET)) {
      return res.status(401).send('Invalid signature');
    }

    // Process webhook
    const event = JSON.parse(payload);
    onEvent(event, req.headers);

    res.status(200).send('OK');
  });

  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve({ port: server.address().port, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) }));
  });
};
