package config

import (
	"strings"
	"testing"
	"time"
)

// TestGatewayRelayDelayWarning: delay_warning defaults to 4h (none when
// max_queue_time is not longer), "0s" turns warnings off, and a set value must
// be at least 1m and below max_queue_time.
func TestGatewayRelayDelayWarning(t *testing.T) {
	t.Parallel()
	test := func(relay string, want time.Duration, wantErr string) {
		t.Helper()
		c, err := Parse("relay.toml", strings.NewReader("[gateway.relay]\n"+relay))
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%q: error %v, want %q", relay, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Errorf("%q: %v", relay, err)
			return
		}
		if got := c.Gateway.Relay.DelayWarningD(); got != want {
			t.Errorf("%q: delay warning %s, want %s", relay, got, want)
		}
	}
	test("", 4*time.Hour, "")
	test("delay_warning = \"30m\"\n", 30*time.Minute, "")
	test("delay_warning = \"0s\"\n", 0, "")
	test("max_queue_time = \"2h\"\n", 0, "")                                 // unset and not below: no warnings
	test("max_queue_time = \"2h\"\ndelay_warning = \"1h\"\n", time.Hour, "") // set below it
	test("delay_warning = \"30s\"\n", 0, `relay.toml:2: gateway.relay.delay_warning: want "0s" (no warnings) or at least 1m and below max_queue_time`)
	test("max_queue_time = \"2h\"\ndelay_warning = \"2h\"\n", 0, "relay.toml:3: gateway.relay.delay_warning:")
	test("delay_warning = \"-1m\"\n", 0, "gateway.relay.delay_warning:")
	test("delay_warning = \"pronto\"\n", 0, "want a duration")
}
