package engine

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WebhookSignatureHeader carries a webhook's signature:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>", as
// Stripe signs its webhooks. The timestamp lets a receiver refuse replays.
const WebhookSignatureHeader = "X-Floodgate-Signature"

// ErrBadSignature is returned by VerifyWebhook.
var ErrBadSignature = errors.New("engine: bad webhook signature")

type webhookConfig struct {
	secret   []byte
	client   *http.Client
	attempts int
	backoff  time.Duration
}

// SignWebhook returns the WebhookSignatureHeader value for body sent at t.
func SignWebhook(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(webhookMAC(secret, ts, body))
}

func webhookMAC(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks a WebhookSignatureHeader value against body: the
// MAC must match (in constant time) and the timestamp be within tolerance
// of now. It returns an error matching ErrBadSignature otherwise.
func VerifyWebhook(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: malformed header", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp outside the tolerance", ErrBadSignature)
	}
	want := webhookMAC(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no matching signature", ErrBadSignature)
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
		status, err := e.postWebhook(ctx, url, body)
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

func (e *Engine) postWebhook(ctx context.Context, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "floodgate-webhook")
	req.Header.Set(WebhookSignatureHeader, SignWebhook(e.webhook.secret, e.now(), body))
	resp, err := e.webhook.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("webhook: status %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}
