package archive

import "github.com/resguardo/resguardo/internal/message"

func parseForTest(b []byte) *message.Message { return message.Parse(b, message.Limits{}) }
