package scan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/resguardo/resguardo/internal/message"
)

// Part is something ScanMessage gives the engines: the whole message, or one
// decoded attachment.
type Part struct {
	// Name is MessagePartName for the whole message; for an attachment, its file
	// name, else "part 2.1 of type application/pdf"; inside an attached message,
	// the names are joined: "reenvio.eml > factura.zip".
	Name string
	Data []byte
}

// MessagePartName is the name of the whole message among Parts.
const MessagePartName = "message"

// Limits of Parts.
const (
	MaxParts       = 100 // parts returned, the whole message included
	MaxPartsFactor = 4   // decoded bytes of all attachments ≤ this × the message size
	maxNesting     = 8   // encoded message/rfc822 attachments decoded inside one another
)

// Parts returns the whole message followed by each decoded attachment: every
// leaf that is not body text (text/plain or text/html without a file name),
// with base64, quoted-printable or uuencode removed, then every attached
// message (message/rfc822). The parts inside an attached message are listed
// too; one that was itself base64- or quoted-printable-encoded (not allowed by
// RFC 2046, but sent) is decoded and parsed again.
//
// At most MaxParts parts are returned, and attachments whose decoded size
// would take the total past MaxPartsFactor times the message size are left
// out; files come before attached messages, whose bytes an engine mostly sees
// already in the message around them. Malformed MIME never panics: it only
// gives fewer parts. MIME parsing is internal/message's, which takes any bytes
// (see its documentation for why not emersion/go-message).
func Parts(msg []byte) []Part {
	var files, messages []partCandidate
	collectParts(msg, "", 0, &files, &messages)
	out := []Part{{Name: MessagePartName, Data: msg}}
	budget := int64(MaxPartsFactor) * int64(len(msg))
	for _, c := range append(files, messages...) {
		if len(out) >= MaxParts {
			break
		}
		if c.part.Size > budget {
			continue
		}
		data := c.data
		if data == nil {
			var err error
			if data, err = message.DecodePart(c.src, c.part); err != nil {
				continue
			}
		}
		budget -= int64(len(data))
		out = append(out, Part{Name: c.name, Data: data})
	}
	return out
}

// partCandidate is an attachment found by collectParts, not decoded yet
// (unless it is a message that had to be decoded to look inside).
type partCandidate struct {
	name string
	src  []byte // the message it belongs to
	part message.Part
	data []byte
}

// collectParts lists the attachments of msg: files and attached messages
// apart, at most MaxParts of each.
func collectParts(msg []byte, prefix string, depth int, files, messages *[]partCandidate) {
	m := message.Parse(msg, message.Limits{MaxParts: 4 * MaxParts})
	inside := map[string]string{} // path of an attached message → its name
	for _, p := range m.Parts {
		if !p.Attachment {
			continue
		}
		name := prefix + partName(p)
		for path := p.Path; ; {
			i := strings.LastIndexByte(path, '.')
			if i < 0 {
				break
			}
			path = path[:i]
			if outer, ok := inside[path]; ok {
				name = outer + " > " + partName(p)
				break
			}
		}
		c := partCandidate{name: name, src: msg, part: p}
		if !isMessageType(p.ContentType) {
			if len(*files) < MaxParts {
				*files = append(*files, c)
			}
			continue
		}
		inside[p.Path] = name
		if len(*messages) >= MaxParts {
			continue
		}
		if encodedMessage(p.Encoding) && depth < maxNesting {
			if data, err := message.DecodePart(msg, p); err == nil {
				c.data = data
				collectParts(data, c.name+" > ", depth+1, files, messages)
			}
		}
		*messages = append(*messages, c)
	}
}

func isMessageType(mt string) bool {
	return mt == "message/rfc822" || mt == "message/global" || mt == "message/news"
}

// encodedMessage: an attached message that internal/message did not descend
// into because of its transfer encoding.
func encodedMessage(cte string) bool {
	switch cte {
	case "", "7bit", "8bit", "binary":
		return false
	}
	return true
}

// partName is the attachment's file name, cleaned for logs and records, or its
// part number and type.
func partName(p message.Part) string {
	name := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, p.Filename)
	name = strings.TrimSpace(name)
	if r := []rune(name); len(r) > 120 {
		name = string(r[:120]) + "…"
	}
	switch name {
	case "":
	case MessagePartName: // not to be taken for the whole message
		return name + " (attachment)"
	default:
		return name
	}
	return "part " + p.Path + " of type " + p.ContentType
}

// ScanMessage scans msg with every engine, as Scan does, and each decoded
// attachment (Parts) as well, and merges each engine's answers into one result
// per engine, in engine order: Infected if the engine found something in any
// part (Threat "name (in attachment factura.zip)" for what it found in an
// attachment; several findings are joined with "; "), else Error if it failed
// on any part, else Clean. The parts of one engine are scanned at the same time
// (within its MaxConcurrent slots) and Timeout bounds them all, so the total
// time is about that of the slowest engine on the largest part.
func (s *Scanner) ScanMessage(ctx context.Context, msg []byte) []Result {
	return s.ScanParts(ctx, Parts(msg))
}

// ScanParts is ScanMessage on parts already split.
func (s *Scanner) ScanParts(ctx context.Context, parts []Part) []Result {
	out := make([]Result, len(s.Engines))
	var wg sync.WaitGroup
	for i, e := range s.Engines {
		wg.Go(func() {
			out[i] = s.run(ctx, i, e, func(ctx context.Context, h *engineHealth) (Result, error) {
				rs := make([]Result, len(parts))
				errs := make([]error, len(parts))
				var pw sync.WaitGroup
				for j, p := range parts {
					pw.Go(func() { rs[j], errs[j] = scanOnce(ctx, h, e, p.Data) })
				}
				pw.Wait()
				return mergeParts(parts, rs, errs)
			})
		})
	}
	wg.Wait()
	return out
}

// mergeParts makes one engine's result from its results on each part.
func mergeParts(parts []Part, rs []Result, errs []error) (Result, error) {
	var merged Result
	var threats, failures []string
	seen := map[string]bool{}         // threats as reported, with the attachment
	inAttachment := map[string]bool{} // threat names found in attachments
	for j, r := range rs {
		if merged.Version == "" && errs[j] == nil {
			merged.Version = r.Version
		}
		switch {
		case errs[j] != nil:
			failures = append(failures, where(parts[j])+": "+errs[j].Error())
		case r.Verdict == Infected:
			t := r.Threat
			if t == "" {
				t = "unnamed threat"
			}
			if parts[j].Name != MessagePartName {
				inAttachment[t] = true
				t += " (in attachment " + parts[j].Name + ")"
			}
			if !seen[t] {
				seen[t] = true
				threats = append(threats, t)
			}
		case r.Verdict != Clean:
			failures = append(failures, where(parts[j])+": engine gave no verdict")
		}
	}
	// An engine that reads mail itself finds in the whole message what it
	// finds in the attachment: name it once, with the attachment.
	threats = slices.DeleteFunc(threats, func(t string) bool { return inAttachment[t] })
	switch {
	case len(threats) > 0:
		merged.Verdict, merged.Threat = Infected, strings.Join(threats, "; ")
		if len(failures) > 0 {
			merged.Detail = fmt.Sprintf("%d of %d parts not scanned: %s", len(failures), len(parts), failures[0])
		}
		return merged, nil
	case len(parts) == 1 && errs[0] != nil:
		return Result{}, errs[0]
	case len(failures) > 0:
		for _, err := range errs {
			if errors.Is(err, ErrTimeout) {
				return Result{}, fmt.Errorf("%w: %d of %d parts not scanned: %s", ErrTimeout, len(failures), len(parts), failures[0])
			}
		}
		return Result{}, fmt.Errorf("%d of %d parts not scanned: %s", len(failures), len(parts), failures[0])
	}
	merged.Verdict = Clean
	return merged, nil
}

func where(p Part) string {
	if p.Name == MessagePartName {
		return "the message"
	}
	return "attachment " + p.Name
}
