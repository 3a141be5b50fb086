package shop

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGoldenResponses pins the JSON shapes the demo agents' tools see
// (go test -run TestGoldenResponses -update rewrites them).
func TestGoldenResponses(t *testing.T) {
	s := newShop(t, Config{})
	inTransit := idsWith(t, s, StatusInTransit, 1)[0]
	eligible := deliveredWithin(t, s, 1, 20, 2)[0]
	tests := []struct {
		name, method, path, body string
	}{
		{"order_100123", "GET", "/orders/100123", ""},
		{"shipment_in_transit", "GET", "/orders/" + strconv.Itoa(inTransit) + "/shipment", ""},
		{"search_running_shoes", "GET", "/products?q=running+shoes&limit=3", ""},
		{"return_created", "POST", "/returns", returnBody(eligible, "Arrived damaged")},
		{"error_window_closed", "POST", "/returns", returnBody(deliveredWithin(t, s, 40, 60, 1)[0], "too late")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, s, tt.method, tt.path, tt.body)
			var pretty bytes.Buffer
			require.NoError(t, json.Indent(&pretty, r.body, "", "  "))
			got := strconv.Itoa(r.code) + " " + tt.method + " " + tt.path + "\n" + pretty.String() + "\n"
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, string(want), got)
		})
	}
}
