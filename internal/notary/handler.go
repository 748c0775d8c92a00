package notary

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// maxRequestBytes bounds a TimeStampReq body. Real requests are under 200 bytes;
// the limit leaves room for request extensions.
const maxRequestBytes = 16 << 10

// Handler serves the RFC 3161 §3.4 HTTP transport: a POST of
// application/timestamp-query is answered with application/timestamp-reply (also for
// rejections, whose status travels in the TimeStampResp). Other methods get 405,
// other content types 415, bodies over 16 KiB 413.
func (a *Authority) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/timestamp-query" {
			http.Error(w, "content type must be application/timestamp-query", http.StatusUnsupportedMediaType)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read request", http.StatusBadRequest)
			return
		}
		resp := a.Respond(body)
		h := w.Header()
		h.Set("Content-Type", "application/timestamp-reply")
		h.Set("Content-Length", strconv.Itoa(len(resp)))
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(resp) // the client sees a short body; nothing else to do
	})
}
