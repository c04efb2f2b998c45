// Package readme keeps README.md true: its test replays every `console`
// block of the README (the walk-through) against the API that `make run`
// serves, on a fresh table, and compares each response with the one the
// README shows. The package has no code of its own; see readme_test.go for
// the rules by which README text stands for a real response (TestREADME).
package readme
