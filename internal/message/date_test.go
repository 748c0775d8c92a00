package message

import (
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	tests := []struct {
		in   string
		want time.Time // in UTC; zero = must fail
		off  int       // expected zone offset in seconds
	}{
		{"Mon, 3 Jun 2024 10:15:42 -0600", utc(2024, 6, 3, 16, 15, 42), -6 * 3600},
		{"Mon, 03 Jun 2024 10:15:42 +0000", utc(2024, 6, 3, 10, 15, 42), 0},
		{"3 Jun 2024 10:15:42 -0600", utc(2024, 6, 3, 16, 15, 42), -6 * 3600},            // no weekday
		{"Mon, 3 Jun 2024 10:15 -0600", utc(2024, 6, 3, 16, 15, 0), -6 * 3600},           // no seconds
		{"Mon, 3 Jun 24 10:15:42 -0600", utc(2024, 6, 3, 16, 15, 42), -6 * 3600},         // 2-digit year
		{"Thu, 4 Mar 99 10:15:42 +0100", utc(1999, 3, 4, 9, 15, 42), 3600},               // 2-digit year, 19xx
		{"Mon, 3 Jun 124 10:15:42 +0000", utc(2024, 6, 3, 10, 15, 42), 0},                // 3-digit year
		{"Mon, 3 Jun 2024 10:15:42 -0600 (CST)", utc(2024, 6, 3, 16, 15, 42), -6 * 3600}, // comment
		{"Mon, 3 Jun 2024 10:15:42 CST", utc(2024, 6, 3, 16, 15, 42), -6 * 3600},
		{"Mon, 3 Jun 2024 10:15:42 CDT", utc(2024, 6, 3, 15, 15, 42), -5 * 3600},
		{"Mon, 3 Jun 2024 10:15:42 EST", utc(2024, 6, 3, 15, 15, 42), -5 * 3600},
		{"Mon, 3 Jun 2024 10:15:42 EDT", utc(2024, 6, 3, 14, 15, 42), -4 * 3600},
		{"Mon, 3 Jun 2024 10:15:42 MST", utc(2024, 6, 3, 17, 15, 42), -7 * 3600},
		{"Mon, 3 Jun 2024 10:15:42 MDT", utc(2024, 6, 3, 16, 15, 42), -6 * 3600},
		{"Mon, 3 Jun 2024 10:15:42 PST", utc(2024, 6, 3, 18, 15, 42), -8 * 3600},
		{"Mon, 3 Jun 2024 10:15:42 PDT", utc(2024, 6, 3, 17, 15, 42), -7 * 3600},
		{"Mon, 3 Jun 2024 10:15:42 UT", utc(2024, 6, 3, 10, 15, 42), 0},
		{"Mon, 3 Jun 2024 10:15:42 GMT", utc(2024, 6, 3, 10, 15, 42), 0},
		{"Mon, 3 Jun 2024 10:15:42 Z", utc(2024, 6, 3, 10, 15, 42), 0},     // military
		{"mon, 3 jun 2024 10:15:42 +0000", utc(2024, 6, 3, 10, 15, 42), 0}, // lowercase
		{"Monday, 3 June 2024 10:15:42 +0000", utc(2024, 6, 3, 10, 15, 42), 0},
		{"Mon,3 Jun 2024 10:15:42 +0000", utc(2024, 6, 3, 10, 15, 42), 0},
		{"Mon, 3 Jun 2024 10:15:42", utc(2024, 6, 3, 10, 15, 42), 0}, // no zone
		{"Mon, 3 Jun 2024 10:15:42 +0000 (GMT+00:00)", utc(2024, 6, 3, 10, 15, 42), 0},
		{"Mon, 3 Jun 2024 10:15:42 GMT+0200", utc(2024, 6, 3, 8, 15, 42), 2 * 3600},
		{"Mon, 3 Jun 2024 10:15:42 +02:00", utc(2024, 6, 3, 8, 15, 42), 2 * 3600},
		{"Mon Jun  3 10:15:42 2024", utc(2024, 6, 3, 10, 15, 42), 0},          // asctime
		{"Monday, 03-Jun-24 10:15:42 GMT", utc(2024, 6, 3, 10, 15, 42), 0},    // RFC 850
		{"2024-06-03T10:15:42-06:00", utc(2024, 6, 3, 16, 15, 42), -6 * 3600}, // ISO 8601
		{"2024-06-03 10:15:42 +0000", utc(2024, 6, 3, 10, 15, 42), 0},
		{"Tue, 5 Feb 2036 04:05:06 +0000", utc(2036, 2, 5, 4, 5, 6), 0}, // spam years still parse
		{"Sat, 1 Jan 1899 00:00:00 +0000", utc(1899, 1, 1, 0, 0, 0), 0},
		{"Thu,\r\n 13\r\n Feb\r\n 1969\r\n 23:32\r\n -0330 (Newfoundland Time)", utc(1969, 2, 14, 3, 2, 0), -(3*3600 + 30*60)},
		{"Mon, 3 Jun 2024 10:15:42 PM +0000", utc(2024, 6, 3, 22, 15, 42), 0},
		{"Mon, 3 Jun 2024 23:59:60 +0000", utc(2024, 6, 3, 23, 59, 59), 0}, // leap second
		{"Tue, 5 Nov 2002 12:44 0000", utc(2002, 11, 5, 12, 44, 0), 0},     // zone without sign
		{"Tue, 5 Nov 2002 12:44 0200", utc(2002, 11, 5, 10, 44, 0), 2 * 3600},
		{"", time.Time{}, 0},
		{"Whenever", time.Time{}, 0},
		{"Tue, 7 Apr 2026 10:00:t <rimap-test@example.test>", time.Time{}, 0},
		{"Mon, 31 Feb 2024 10:15:42 +0000", time.Time{}, 0},
		{"Mon, 3 Foo 2024 10:15:42 +0000", time.Time{}, 0},
		{"Mon, 3 Jun 2024 25:15:42 +0000", time.Time{}, 0},
		{"1717409742", time.Time{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parseDate(tc.in)
			if tc.want.IsZero() {
				if ok {
					t.Fatalf("parseDate(%q) = %v, want failure", tc.in, got)
				}
				return
			}
			if !ok {
				t.Fatalf("parseDate(%q) failed, want %v", tc.in, tc.want)
			}
			if !got.Equal(tc.want) {
				t.Errorf("parseDate(%q) = %v, want %v", tc.in, got.UTC(), tc.want)
			}
			if _, off := got.Zone(); off != tc.off {
				t.Errorf("parseDate(%q) offset = %d, want %d", tc.in, off, tc.off)
			}
		})
	}
}
