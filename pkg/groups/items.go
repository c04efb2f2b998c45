package groups

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Limits of the item registry.
const (
	MaxItemNameLength      = 256
	MaxEnterpriseLength    = 128
	MaxAttributes          = 50
	MaxAttributeBytes      = 8 << 10
	MaxAttributeKeyLength  = 64
	MaxAttributeValueBytes = 1024
)

// RegisteredItem is what a partner tells about one of its items, so that
// lists can show names, not only ids. Registration is optional: an item can
// be a member of groups without it.
type RegisteredItem struct {
	Item
	Name string
	// Enterprise is the partner's customer organisation the item belongs
	// to; "" when not given.
	Enterprise string
	Attributes map[string]string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Version    int
}

// CleanItemName trims an item name and checks it: 1–256 characters, the
// rules of names (text.go).
func CleanItemName(field, name string) (string, error) {
	return cleanName(field, name, MaxItemNameLength)
}

// CleanEnterprise trims an enterprise and checks it: 1–128 characters, the
// rules of names (text.go).
func CleanEnterprise(field, e string) (string, error) {
	return cleanName(field, e, MaxEnterpriseLength)
}

// ValidateAttributes checks an item's attributes: at most 50 keys of 1–64
// letters, digits, '_' and '-' (no '.', so that a filter field
// "attributes.<key>" is unambiguous), values of at most 1024 bytes, and at
// most 8 KiB in all; values are free text (no control characters but line
// feed and tab).
func ValidateAttributes(field string, attrs map[string]string) []FieldError {
	if len(attrs) > MaxAttributes {
		return []FieldError{{Field: field, Message: fmt.Sprintf("at most %d attributes", MaxAttributes)}}
	}
	var errs []FieldError
	total := 0
	for k, v := range attrs {
		total += len(k) + len(v)
		errs = append(errs, validateAttribute(field, k, &v)...)
	}
	if total > MaxAttributeBytes {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf("must be at most %d bytes in all", MaxAttributeBytes)})
	}
	return errs
}

// validateAttribute checks one key, and its value unless v is nil.
func validateAttribute(field, k string, v *string) []FieldError {
	name := field + "." + k
	switch {
	case k == "" || len(k) > MaxAttributeKeyLength || strings.IndexFunc(k, notAttributeKeyRune) >= 0:
		return []FieldError{{Field: name, Message: fmt.Sprintf("keys must be 1–%d letters, digits, '_' or '-'", MaxAttributeKeyLength)}}
	case v == nil:
		return nil
	case len(*v) > MaxAttributeValueBytes:
		return []FieldError{{Field: name, Message: fmt.Sprintf("must be at most %d bytes", MaxAttributeValueBytes)}}
	case textProblem(*v, freeText) != "":
		return []FieldError{{Field: name, Message: textProblem(*v, freeText)}}
	}
	return nil
}

// ValidateAttributePatch checks each key of a merge patch of attributes,
// and each value it sets (nil removes the key), by ValidateAttributes'
// rules. The limits on the whole (keys, bytes) apply to the patched result,
// which the store checks with ValidateAttributes.
func ValidateAttributePatch(field string, patch map[string]*string) []FieldError {
	var errs []FieldError
	for _, k := range slices.Sorted(maps.Keys(patch)) {
		errs = append(errs, validateAttribute(field, k, patch[k])...)
	}
	return errs
}

func notAttributeKeyRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
}
