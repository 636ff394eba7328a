package node

import "reflect"

// overlay copies every non-zero field of src onto *dst (both the same struct type): the
// overrides in Options replace only what they set.
func overlay[T any](dst *T, src T) {
	d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src)
	for i := range s.NumField() {
		if f := s.Field(i); f.CanInterface() && !f.IsZero() {
			d.Field(i).Set(f)
		}
	}
}
