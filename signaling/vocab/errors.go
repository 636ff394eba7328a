package vocab

import "fmt"

// Error codes of the protocol (docs/protocol.md §Error codes).
const (
	CodeInvalidPayload   = "invalid_payload"
	CodeUnknownEvent     = "unknown_event"
	CodeNotInRoom        = "not_in_room"
	CodeRoomNotFound     = "room_not_found"
	CodeRoomFull         = "room_full"
	CodeForbidden        = "forbidden"
	CodeTargetNotFound   = "target_not_found"
	CodeRateLimited      = "rate_limited"
	CodePayloadTooLarge  = "payload_too_large"
	CodeNotSFURoom       = "not_sfu_room"
	CodeMediaUnavailable = "media_unavailable"
	CodeReplaced         = "replaced"
	CodeDraining         = "draining"
	CodeInternal         = "internal"
	CodeTokenExpired     = "token_expired"
)

// Error is a protocol error: it goes to the client as an ack {ok:false,error} or as the
// `error` event, and the connection stays open.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NewError builds a protocol error with a fixed message.
func NewError(code, message string) *Error { return &Error{Code: code, Message: message} }
