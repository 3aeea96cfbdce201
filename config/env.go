package config

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// expand replaces ${VAR} and ${VAR:-default} with values from lookup, and $$
// with a single $, in the raw text of a config file. A $ followed by anything
// else stays as written, so JSONPath values such as $.lastEventAt need no
// escaping.
//
// The default is used when VAR is unset or empty (as in the shell). An unset
// variable without a default is an error at its position. A value may not
// contain a line break: expansion never moves a line, so YAML positions stay
// those of the file. References in comments (a # at the start of a line or
// after a blank, outside quotes) are left alone, so that a commented-out line
// never needs its variables set.
//
// The returned posMap turns a column of the expanded text back into a column
// of the original one.
func expand(file string, src string, lookup func(string) (string, bool)) (string, posMap, []*Error) {
	var out strings.Builder
	pm := posMap{}
	var errs []*Error
	for n, line := range strings.SplitAfter(src, "\n") {
		lineNo := n + 1
		var done strings.Builder // this line, expanded so far
		replace := func(i, origLen int, with string) {
			pm[lineNo] = append(pm[lineNo], edit{
				col:     utf8.RuneCountInString(done.String()) + 1,
				n:       utf8.RuneCountInString(with),
				orig:    utf8.RuneCountInString(line[:i]) + 1,
				origLen: utf8.RuneCount([]byte(line[i : i+origLen])),
			})
			done.WriteString(with)
		}
		fail := func(i int, format string, args ...any) {
			errs = append(errs, &Error{File: file, Line: lineNo,
				Col: utf8.RuneCountInString(line[:i]) + 1, Msg: fmt.Sprintf(format, args...)})
		}
		var quote byte // the quote character of a quoted scalar we are in, or 0
		for i := 0; i < len(line); {
			c := line[i]
			switch {
			case quote == 0 && c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
				done.WriteString(line[i:]) // a comment: copied as is
				i = len(line)
			case quote == '"' && c == '\\' && i+1 < len(line):
				done.WriteString(line[i : i+2])
				i += 2
			case c == '"' || c == '\'':
				if quote == 0 {
					quote = c
				} else if quote == c {
					quote = 0
				}
				done.WriteByte(c)
				i++
			case strings.HasPrefix(line[i:], "$$"):
				replace(i, 2, "$")
				i += 2
			case strings.HasPrefix(line[i:], "${"):
				end := strings.IndexByte(line[i:], '}')
				if end < 0 {
					fail(i, "unterminated variable reference (missing })")
					done.WriteString(line[i:])
					i = len(line)
					break
				}
				ref := line[i : i+end+1]
				name, def, hasDef := strings.Cut(ref[2:len(ref)-1], ":-")
				if !varName.MatchString(name) {
					fail(i, "invalid variable reference %q (want ${NAME} or ${NAME:-default})", ref)
					replace(i, len(ref), "")
					i += len(ref)
					break
				}
				val, ok := lookup(name)
				switch {
				case hasDef && val == "":
					val = def
				case !ok:
					fail(i, "environment variable %q is not set", name)
				case strings.ContainsAny(val, "\r\n"):
					fail(i, "environment variable %q contains a line break", name)
					val = ""
				}
				replace(i, len(ref), val)
				i += len(ref)
			default:
				done.WriteByte(c)
				i++
			}
		}
		out.WriteString(done.String())
	}
	return out.String(), pm, errs
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// posMap records, per line, where expansion replaced text.
type posMap map[int][]edit

// edit is one replacement on a line: n characters at column col of the
// expanded line stand for origLen characters at column orig of the file.
type edit struct {
	col, n        int
	orig, origLen int
}

// col returns the column of the original file that column col of line in the
// expanded text comes from. A column inside an expanded value maps to the $
// of its reference.
func (m posMap) col(line, col int) int {
	shift := 0
	for _, e := range m[line] {
		if col < e.col {
			break
		}
		if col < e.col+e.n {
			return e.orig
		}
		shift = e.orig + e.origLen - (e.col + e.n)
	}
	return col + shift
}
