package engine

import (
	"context"
	"net/http"
	"time"

	"github.com/floodgate-dev/floodgate/internal/webhook"
)

// WebhookSignatureHeader carries a webhook's signature (see package
// webhook for the scheme).
const WebhookSignatureHeader = webhook.SignatureHeader

// ErrBadSignature is returned by VerifyWebhook.
var ErrBadSignature = webhook.ErrBadSignature

type webhookConfig struct {
	secret       []byte
	allowPrivate bool
	client       *http.Client
	attempts     int
	backoff      time.Duration
}

// SignWebhook returns the WebhookSignatureHeader value for body sent at t.
func SignWebhook(secret []byte, t time.Time, body []byte) string {
	return webhook.Sign(secret, t, body)
}

// VerifyWebhook checks a WebhookSignatureHeader value against body, as
// webhook.Verify does.
func VerifyWebhook(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	return webhook.Verify(secret, header, body, now, tolerance)
}

// deliverWebhook posts body to url, signed, retrying failures (transport
// errors, 408, 429 and 5xx) with doubling back-off up to the configured
// attempts; it stops early when ctx ends.
func (e *Engine) deliverWebhook(ctx context.Context, url string, body []byte) *WebhookStatus {
	ws := &WebhookStatus{}
	wait := e.webhook.backoff
	for ws.Attempts < e.webhook.attempts {
		if ws.Attempts > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				ws.Error = "gave up: " + ctx.Err().Error()
				return ws
			case <-t.C:
			}
			wait *= 2
		}
		ws.Attempts++
		status, err := webhook.Post(ctx, e.webhook.client, url, e.webhook.secret, e.now(), body, nil)
		ws.Status = status
		if err == nil {
			ws.Delivered, ws.Error = true, ""
			return ws
		}
		ws.Error = err.Error()
		if status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests {
			break // the receiver refused it; the same body will be refused again
		}
	}
	return ws
}
