package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/floodgate-dev/floodgate/internal/ledger"
	"github.com/floodgate-dev/floodgate/internal/llm"
)

// maxUsageBody bounds the answer read from the server.
const maxUsageBody = 32 << 20

// runUsage prints a usage breakdown of a running server (GET
// /admin/usage) as a table.
func runUsage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("usage", stderr)
	base := fs.String("url", "http://127.0.0.1:8080", "base `URL` of a running floodgate server")
	key := fs.String("key", "", "admin API `key` sent as Bearer")
	groups := make([]string, len(ledger.Groups))
	for i, g := range ledger.Groups {
		groups[i] = string(g)
	}
	groupBy := fs.String("group-by", string(ledger.GroupAgent), "break down by `group`: "+strings.Join(groups, "|"))
	from := fs.String("from", "", "start of the range: RFC 3339, YYYY-MM-DD, Unix seconds, now, or an offset such as -24h or -7d (default: 24 h before --to)")
	to := fs.String("to", "", "end of the range, same forms (default: now)")
	timeout := fs.Duration("timeout", 30*time.Second, "time-out of the request")
	asJSON := fs.Bool("json", false, "print the server's JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("usage: unexpected argument %q", fs.Arg(0))
	}
	q := url.Values{"group_by": {*groupBy}}
	if *from != "" {
		q.Set("from", *from)
	}
	if *to != "" {
		q.Set("to", *to)
	}
	u := strings.TrimRight(*base, "/") + "/admin/usage?" + q.Encode()

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("usage: %w", err)
	}
	if *key != "" {
		req.Header.Set("Authorization", "Bearer "+*key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("usage: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxUsageBody))
	if err != nil {
		return fmt.Errorf("usage: read answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("usage: %s", serverError(res.StatusCode, body))
	}
	if *asJSON {
		_, err := stdout.Write(body)
		return err
	}
	var b ledger.Breakdown
	if err := json.Unmarshal(body, &b); err != nil {
		return fmt.Errorf("usage: the server's answer is not a breakdown: %w", err)
	}
	return printBreakdown(stdout, &b)
}

// serverError describes a failed answer: its OpenAI-shaped message when
// it has one.
func serverError(status int, body []byte) string {
	var e llm.ErrorBody
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return fmt.Sprintf("%s (HTTP %d)", e.Error.Message, status)
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return fmt.Sprintf("HTTP %d: %s", status, s)
}

// printBreakdown writes b as a table: the key column left-aligned, the
// figures right-aligned, the total last.
func printBreakdown(w io.Writer, b *ledger.Breakdown) error {
	head := []string{strings.ToUpper(string(b.GroupBy)), "REQUESTS", "CALLS", "ERRORS", "DEGRADED",
		"TOKENS_IN", "TOKENS_OUT", "CACHED", "COST_USD", "P50_MS", "AVG_MS"}
	cells := [][]string{head}
	row := func(r ledger.Row, key string) []string {
		return []string{key, itoa(r.Requests), itoa(r.Calls), itoa(r.Errors), itoa(r.Degraded),
			itoa(r.TokensIn), itoa(r.TokensOut), itoa(r.TokensCached), r.Cost.String(),
			strconv.FormatFloat(r.LatencyP50MS, 'f', 1, 64), strconv.FormatFloat(r.LatencyAvgMS, 'f', 1, 64)}
	}
	for _, r := range b.Rows {
		key := r.Key
		if key == "" {
			key = "(none)"
		}
		cells = append(cells, row(r, key))
	}
	cells = append(cells, row(b.Total, "TOTAL"))
	width := make([]int, len(head))
	for _, c := range cells {
		for i, s := range c {
			width[i] = max(width[i], utf8.RuneCountInString(s))
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "usage by %s from %s to %s\n", b.GroupBy, b.From.Format(time.RFC3339), b.To.Format(time.RFC3339))
	for _, c := range cells {
		for i, s := range c {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(s))
			switch i {
			case 0:
				sb.WriteString(s + pad)
			default:
				sb.WriteString("  " + pad + s)
			}
		}
		sb.WriteByte('\n')
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
