package webapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/identity"
	"github.com/resguardo/resguardo/internal/message"
)

// The services below are what the pages and the JSON API both call to read
// mail: the read rule, the access entry, and what is shown. Handlers only
// translate their results into HTML or JSON, and their errors into statuses.

// errNotFound is a record that does not exist or that the user may not read:
// the two are answered alike, so ids reveal nothing.
var errNotFound = errors.New("webapp: not found")

// who is the person a service acts for: the account and the justification of
// the session (or of the API request), copied into every access entry.
type who struct {
	user *identity.User
	just identity.Justification
	via  string // archive.AccessDetail.Via
}

// readable is a record the user may read, with what the pages show of it.
type readable struct {
	rec      *catalog.Record
	meta     archive.Meta
	arrivals []constancia.Arrival
}

// openRecord looks up the record with the full SHA-256 id and applies the read
// rule: errNotFound whether the record does not exist or belongs to others;
// identity.ErrJustificationRequired for a role that reads others' mail but
// has not given a justification.
func (a *App) openRecord(ctx context.Context, u who, id string) (*readable, error) {
	if !isSHA256(id) {
		return nil, errNotFound
	}
	rec, err := a.opt.Lookup(ctx, id)
	if err != nil || rec == nil || rec.SHA256 != id {
		return nil, errNotFound
	}
	rd := &readable{rec: rec}
	if err := json.Unmarshal(rec.Meta, &rd.meta); err != nil {
		return nil, fmt.Errorf("record %s metadata: %w", id, err)
	}
	if a.opt.Arrivals != nil {
		if rd.arrivals, err = a.opt.Arrivals(ctx, rec); err != nil {
			return nil, fmt.Errorf("record %s arrivals: %w", id, err)
		}
	}
	_, err = identity.AuthorizeRead(u.user, u.just, rd.participants())
	switch {
	case errors.Is(err, identity.ErrJustificationRequired):
		return nil, err
	case err != nil:
		return nil, errNotFound
	}
	return rd, nil
}

// openBytes is openRecord followed by reading the record's bytes.
func (a *App) openBytes(ctx context.Context, u who, id string) (*readable, []byte, error) {
	rd, err := a.openRecord(ctx, u, id)
	if err != nil {
		return nil, nil, err
	}
	raw, err := a.opt.Bytes(ctx, rd.rec)
	if err != nil {
		return nil, nil, fmt.Errorf("record %s bytes: %w", id, err)
	}
	return rd, raw, nil
}

// participants are the addresses of the read rule: From, Sender, Reply-To, To,
// Cc, Bcc and the envelope's sender and recipients.
func (rd *readable) participants() []string {
	var out []string
	m := rd.meta
	for _, list := range [][]message.Address{m.From, m.Sender, m.ReplyTo, m.To, m.Cc, m.Bcc} {
		for _, ad := range list {
			out = append(out, ad.Address)
		}
	}
	for _, ar := range rd.arrivals {
		if ar.MailFrom != "" {
			out = append(out, ar.MailFrom)
		}
		out = append(out, ar.RcptTo...)
	}
	return out
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// logRead writes the access entry of a view or download. A read whose entry
// cannot be written is refused: the caller sends nothing.
func (a *App) logRead(ctx context.Context, u who, action, what string, rec *catalog.Record) error {
	err := a.opt.LogAccess(ctx, archive.AccessDetail{Actor: u.user.Actor(), Action: action, Query: what, Results: 1,
		Records: []string{rec.SHA256}, Justification: u.just.Text, Via: u.via})
	if err != nil {
		return fmt.Errorf("access not logged: %w", err)
	}
	return nil
}

// messageView is what the message page and GET /api/v1/messages/{id} show:
// the record, its metadata and receptions, its attachments and bodies.
type messageView struct {
	*readable
	attachments []message.Part
	text        string // the first text/plain body, decoded
	hasText     bool
	hasHTML     bool
	certify     bool // the user may download its constancias
	raw         []byte
	htmlPart    message.Part // the first text/html body, when hasHTML
}

// remoteImages is the number of remote images that the sanitized HTML body
// blocks (0 without one), for the message page's notice.
func (a *App) remoteImages(v *messageView) int {
	if !v.hasHTML {
		return 0
	}
	return a.san.clean(decodeHTML(v.raw, v.htmlPart), nil).remote
}

// readMessage opens a message for reading and writes its access entry
// (action read, "message").
func (a *App) readMessage(ctx context.Context, u who, id string) (*messageView, error) {
	rd, raw, err := a.openBytes(ctx, u, id)
	if err != nil {
		return nil, err
	}
	if err := a.logRead(ctx, u, "read", "message", rd.rec); err != nil {
		return nil, err
	}
	m := message.Parse(raw, message.Limits{})
	v := &messageView{readable: rd, attachments: m.Attachments(),
		certify: a.opt.Constancia != nil && u.user.Can(identity.PermCertify)}
	if tp, ok := bodyPart(m, "text/plain"); ok {
		b, _ := message.DecodePart(raw, tp)
		v.text, v.hasText = message.DecodeText(b, tp.Charset), true
	}
	v.htmlPart, v.hasHTML = bodyPart(m, "text/html")
	v.raw = raw
	return v, nil
}

// bodyPart is the first body (not attachment) part of type ct.
func bodyPart(m *message.Message, ct string) (message.Part, bool) {
	for _, p := range m.Parts {
		if !p.Attachment && p.ContentType == ct {
			return p, true
		}
	}
	return message.Part{}, false
}

// htmlBody returns a message's first HTML body as the document of its frame:
// decoded to UTF-8, sanitized (sanitize.go), its cid: images embedded as data:
// URLs and its remote images blocked (errNotFound when it has none); and
// writes its access entry (read, "html body"). The archived bytes are not
// changed.
func (a *App) htmlBody(ctx context.Context, u who, id string) (string, error) {
	rd, raw, err := a.openBytes(ctx, u, id)
	if err != nil {
		return "", err
	}
	m := message.Parse(raw, message.Limits{})
	hp, ok := bodyPart(m, "text/html")
	if !ok {
		return "", errNotFound
	}
	if err := a.logRead(ctx, u, "read", "html body", rd.rec); err != nil {
		return "", err
	}
	return bodyDocument(a.san.clean(decodeHTML(raw, hp), inlineImages(raw, m)).html), nil
}

// rawMessage returns a message's exact bytes and writes its access entry
// (download, "raw message").
func (a *App) rawMessage(ctx context.Context, u who, id string) (*catalog.Record, []byte, error) {
	rd, raw, err := a.openBytes(ctx, u, id)
	if err != nil {
		return nil, nil, err
	}
	if err := a.logRead(ctx, u, "download", "raw message", rd.rec); err != nil {
		return nil, nil, err
	}
	return rd.rec, raw, nil
}

// fileOut is a download: a safe file name, its media type and its bytes.
type fileOut struct {
	name, ctype string
	data        []byte
}

// attachmentFile returns one attachment (by part path) as
// application/octet-stream under a safe file name, and writes its access entry
// (download, "attachment <path>"). A path that is not an attachment of the
// message is errNotFound.
func (a *App) attachmentFile(ctx context.Context, u who, id, path string) (*fileOut, error) {
	rd, raw, err := a.openBytes(ctx, u, id)
	if err != nil {
		return nil, err
	}
	var part *message.Part
	for _, at := range message.Parse(raw, message.Limits{}).Attachments() {
		if at.Path == path {
			part = &at
			break
		}
	}
	if part == nil {
		return nil, errNotFound
	}
	if err := a.logRead(ctx, u, "download", "attachment "+path, rd.rec); err != nil {
		return nil, err
	}
	b, err := message.DecodePart(raw, *part)
	if err != nil {
		return nil, fmt.Errorf("record %s attachment %s: %w", id, path, err)
	}
	return &fileOut{name: safeFilename(part.Filename, "adjunto-"+path+".bin"), ctype: "application/octet-stream", data: b}, nil
}

// constanciaTypes are the media types of the constancia's forms, by extension.
var constanciaTypes = map[string]string{
	"json": "application/json",
	"p7s":  "application/pkcs7-signature",
	"pdf":  "application/pdf",
}

// constanciaFile builds a record's constancia as JSON, CMS (p7s) or PDF, for
// users whose role certifies (identity.ErrForbidden otherwise, checked after
// the read rule so that others' ids stay errNotFound), and writes its access
// entry (download, "constancia <ext>"). archive.ErrPending: its checkpoint is
// not timestamped yet.
func (a *App) constanciaFile(ctx context.Context, u who, id, ext string) (*fileOut, error) {
	ctype, ok := constanciaTypes[ext]
	if a.opt.Constancia == nil || !ok {
		return nil, errNotFound
	}
	rd, err := a.openRecord(ctx, u, id)
	if err != nil {
		return nil, err
	}
	if !u.user.Can(identity.PermCertify) {
		return nil, identity.ErrForbidden
	}
	c, err := a.opt.Constancia(ctx, rd.rec)
	if err != nil {
		return nil, err
	}
	if err := a.logRead(ctx, u, "download", "constancia "+ext, rd.rec); err != nil {
		return nil, err
	}
	f := &fileOut{name: "constancia-" + rd.rec.SHA256[:16] + "." + ext, ctype: ctype}
	switch ext {
	case "json":
		f.data = c.JSON
	case "p7s":
		f.data = c.P7S
	case "pdf":
		f.data = c.PDF
	}
	return f, nil
}
