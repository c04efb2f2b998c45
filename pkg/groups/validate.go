package groups

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ParseItemType returns the item type named s, or an invalid_argument error
// naming field.
func ParseItemType(field, s string) (ItemType, error) {
	for _, t := range ItemTypes {
		if string(t) == s {
			return t, nil
		}
	}
	return "", fieldError(field, fmt.Sprintf("must be one of %s", itemTypeList()))
}

func itemTypeList() string {
	names := make([]string, len(ItemTypes))
	for i, t := range ItemTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// ValidateID checks a group id or a partner's item id: 1–128 characters of
// letters, digits and -_.:@, not dots only (so ids are safe inside keys,
// paths and logs: as a path segment, "." or ".." would name another
// resource).
func ValidateID(field, id string) error {
	if id == "" || len(id) > MaxIDLength {
		return fieldError(field, fmt.Sprintf("must be 1–%d characters", MaxIDLength))
	}
	for _, r := range id {
		if !isIDRune(r) {
			return fieldError(field, "may contain only letters, digits and -_.:@")
		}
	}
	if strings.Trim(id, ".") == "" {
		return fieldError(field, "must not be dots only")
	}
	return nil
}

func isIDRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("-_.:@", r)
}

// CleanName trims a group name and checks it: 1–128 characters, the rules of
// names (text.go), and at most MaxFoldedNameBytes once folded, since the
// folded name is its key.
func CleanName(field, name string) (string, error) {
	name, err := cleanName(field, name, MaxNameLength)
	if err == nil && len(FoldName(name)) > MaxFoldedNameBytes {
		err = fieldError(field, fmt.Sprintf("must be at most %d bytes once normalised", MaxFoldedNameBytes))
	}
	return name, err
}

// CleanDescription checks a description: at most 1024 characters of free
// text (no control characters but line feed and tab).
func CleanDescription(field, d string) (string, error) {
	if utf8.RuneCountInString(d) > MaxDescriptionLength {
		return "", fieldError(field, fmt.Sprintf("must be at most %d characters", MaxDescriptionLength))
	}
	if msg := textProblem(d, freeText); msg != "" {
		return "", fieldError(field, msg)
	}
	return d, nil
}

// ValidateInitialMembers checks the members of a create-group request: valid
// ids, no item twice, at most MaxInitialMembers in all.
func ValidateInitialMembers(members []Item) []FieldError {
	var errs []FieldError
	if len(members) > MaxInitialMembers {
		errs = append(errs, FieldError{Field: "members", Message: fmt.Sprintf("at most %d initial members in all; add more with add-member", MaxInitialMembers)})
		return errs
	}
	seen := make(map[Item]bool, len(members))
	index := make(map[ItemType]int)
	for _, m := range members {
		field := fmt.Sprintf("%s[%d]", m.Type, index[m.Type])
		index[m.Type]++
		if err := ValidateID(field, m.ID); err != nil {
			errs = append(errs, FieldsOf(err)...)
			continue
		}
		if seen[m] {
			errs = append(errs, FieldError{Field: field, Message: "duplicate id " + m.ID})
		}
		seen[m] = true
	}
	return errs
}

// ValidationError gathers field errors into one invalid_argument error, or
// returns nil when there are none.
func ValidationError(errs []FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Field + " " + e.Message
	}
	return &Error{Code: CodeInvalidArgument, Detail: strings.Join(parts, "; "), Fields: errs}
}

// FieldsOf returns the field errors carried by err.
func FieldsOf(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

func fieldError(field, msg string) error {
	return &Error{Code: CodeInvalidArgument, Detail: field + " " + msg, Fields: []FieldError{{Field: field, Message: msg}}}
}
