package mailbox

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestZZDebug(t *testing.T) {
	args := os.Getenv("MBX_ARGS")
	if args == "" {
		t.Skip()
	}
	a := strings.Fields(args)
	n := 0
	err := Scan(context.Background(), a[1:], Options{MboxFormat: a[0], OnSkip: func(s Skip) { fmt.Println("SKIP", s.Path, s.Reason) }}, func(it Item) error {
		n++
		fmt.Printf("%s %s in=%d len=%d err=%v\n", it.Source, it.Format, it.Input, len(it.Data), it.Err)
		return nil
	})
	fmt.Println(n, err)
}
