package webapp

import (
	"context"
	"errors"
	"slices"

	"github.com/resguardo/resguardo/internal/identity"
)

// maxThread bounds the other messages of a conversation listed on the message
// page.
const maxThread = 50

// threadItem is one message of a conversation, as the message page lists it.
type threadItem struct {
	ID, Date, From, Subject string
	Current                 bool
}

// threadOf lists the conversation of an open message: the message itself
// (Current) and the other messages of its thread that u may read, by the same
// read rule as the message page (others are left out, so the list reveals
// nothing of them), oldest first. It writes no access entry: it shows only
// dates, senders and subjects, as a search result list does, and the page's
// own entry stands for the view. Nil when the message is alone (or the
// thread is unknown).
func (a *App) threadOf(ctx context.Context, u who, cur *readable, date func(rd *readable) string) ([]threadItem, error) {
	if a.opt.Thread == nil {
		return nil, nil
	}
	ids, err := a.opt.Thread(ctx, cur.rec.SHA256, maxThread)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	type member struct {
		rd   *readable
		item threadItem
	}
	item := func(rd *readable, current bool) member {
		from := addrs(rd.meta.From)
		if from == "" {
			from = rd.rec.FromAddr
		}
		return member{rd, threadItem{ID: rd.rec.SHA256, Date: date(rd), From: from, Subject: rd.meta.Subject, Current: current}}
	}
	list := []member{item(cur, true)}
	for _, id := range ids {
		rd, err := a.openRecord(ctx, u, id)
		switch {
		case errors.Is(err, errNotFound), errors.Is(err, identity.ErrJustificationRequired):
			continue
		case err != nil:
			return nil, err
		}
		list = append(list, item(rd, false))
	}
	if len(list) == 1 {
		return nil, nil
	}
	slices.SortStableFunc(list, func(x, y member) int {
		dx, dy := x.rd.rec.Date, y.rd.rec.Date
		switch {
		case dx.IsZero() && dy.IsZero():
			return 0
		case dx.IsZero():
			return 1
		case dy.IsZero():
			return -1
		}
		return dx.Compare(dy)
	})
	out := make([]threadItem, len(list))
	for i, m := range list {
		out[i] = m.item
	}
	return out, nil
}
