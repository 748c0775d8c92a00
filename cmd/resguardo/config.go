package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/resguardo/resguardo/internal/config"
)

func runConfig(ctx context.Context, m *Main, args []string) error {
	sub, rest := subcommand(args)
	if sub != "check" {
		return &exitError{code: 2, err: errors.New("usage: resguardo config check [--config FILE]")}
	}
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	pos, err := m.parse(fs, rest)
	if err != nil {
		var ee *exitError
		var ce *config.Error
		if errors.As(err, &ee) && errors.As(ee.err, &ce) {
			fmt.Fprintln(m.Stdout, ce.Error())
			return &exitError{code: 1}
		}
		return err
	}
	if len(pos) > 0 {
		m.ConfigPath = pos[0]
		if err := m.setup(); err != nil {
			var ee *exitError
			if errors.As(err, &ee) {
				fmt.Fprintln(m.Stdout, ee.err)
				return &exitError{code: 1}
			}
			return err
		}
	}
	if m.ConfigPath == "" {
		fmt.Fprintln(m.Stdout, m.P.T("config.defaults"))
		return nil
	}
	fmt.Fprintln(m.Stdout, m.P.T("config.ok", m.ConfigPath))
	return nil
}
