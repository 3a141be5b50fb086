package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxDrain bounds what Post reads of an answer before closing it, so that
// the connection can be reused without a receiver making us read forever.
const maxDrain = 64 << 10

// Post posts body (JSON) to url with c, signed with secret at now, with
// the headers of hdr added. It returns the answer's status (0 when none
// came) and an error unless the status is 2xx; the answer's body is
// drained and closed.
func Post(ctx context.Context, c *http.Client, url string, secret []byte, now time.Time, body []byte, hdr http.Header) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook request: %w", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "floodgate-webhook")
	req.Header.Set(SignatureHeader, Sign(secret, now, body))
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("webhook: status %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}
