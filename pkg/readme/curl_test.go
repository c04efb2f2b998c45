package readme

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// curlRequest is a curl command line, for the flags the README uses.
type curlRequest struct {
	method    string
	url       string
	headers   [][2]string
	data      *string // -d, --data, --data-binary (joined with & when repeated)
	include   bool    // -i: the output starts with the status line and headers
	globoff   bool    // -g
	discard   bool    // -o /dev/null
	writeOut  string  // -w
	hasWriteO bool
}

// parseCurl reads curl's arguments (after "curl"). A flag it does not know
// is an error, so that a README command the replay cannot send fails the
// test rather than being sent differently.
func parseCurl(args []string) (*curlRequest, error) {
	r := &curlRequest{}
	next := func(i int, flag string) (string, error) {
		if i+1 >= len(args) {
			return "", fmt.Errorf("curl %s needs a value", flag)
		}
		return args[i+1], nil
	}
	addData := func(d string) {
		if r.data != nil {
			d = *r.data + "&" + d
		}
		r.data = &d
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-X" || a == "--request" || a == "-H" || a == "--header" || a == "-d" || a == "--data" ||
			a == "--data-binary" || a == "-o" || a == "--output" || a == "-w" || a == "--write-out":
			v, err := next(i, a)
			if err != nil {
				return nil, err
			}
			i++
			switch a {
			case "-X", "--request":
				r.method = v
			case "-H", "--header":
				name, value, ok := strings.Cut(v, ":")
				if !ok {
					return nil, fmt.Errorf("curl -H %q: no colon", v)
				}
				r.headers = append(r.headers, [2]string{strings.TrimSpace(name), strings.TrimSpace(value)})
			case "-d", "--data", "--data-binary":
				if strings.HasPrefix(v, "@") {
					return nil, fmt.Errorf("curl %s @file is not supported", a)
				}
				addData(v)
			case "-o", "--output":
				if v != "/dev/null" {
					return nil, fmt.Errorf("curl %s %s: only /dev/null is supported", a, v)
				}
				r.discard = true
			case "-w", "--write-out":
				r.writeOut, r.hasWriteO = v, true
			}
		case a == "--silent" || a == "--include" || a == "--globoff":
			r.include = r.include || a == "--include"
			r.globoff = r.globoff || a == "--globoff"
		case strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && len(a) > 1:
			// Combined short flags without values: -s, -i, -g, as in -sig.
			for _, f := range a[1:] {
				switch f {
				case 's':
				case 'i':
					r.include = true
				case 'g':
					r.globoff = true
				default:
					return nil, fmt.Errorf("curl flag -%c (in %s) is not supported by the README replay", f, a)
				}
			}
		case strings.HasPrefix(a, "-"):
			return nil, fmt.Errorf("curl flag %s is not supported by the README replay", a)
		default:
			if r.url != "" {
				return nil, fmt.Errorf("curl with two URLs (%s, %s) is not supported", r.url, a)
			}
			r.url = a
		}
	}
	if r.url == "" {
		return nil, fmt.Errorf("curl without a URL")
	}
	if !r.globoff && strings.ContainsAny(r.url, "[]{}") {
		return nil, fmt.Errorf("curl would read %s as a glob: pass -g", r.url)
	}
	if r.method == "" {
		r.method = http.MethodGet
		if r.data != nil {
			r.method = http.MethodPost
		}
	}
	return r, nil
}

// curlResponse is what curl received.
type curlResponse struct {
	status int
	header http.Header
	body   []byte
}

// client sends requests as curl does: no redirects followed, no
// compression asked for.
var client = &http.Client{
	Transport:     &http.Transport{DisableCompression: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (r *curlRequest) do() (*curlResponse, error) {
	var body io.Reader
	if r.data != nil {
		body = strings.NewReader(*r.data)
	}
	req, err := http.NewRequest(r.method, r.url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "curl/8.5.0")
	req.Header.Set("Accept", "*/*")
	if r.data != nil {
		// curl -d's default, which the README warns about.
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range r.headers {
		req.Header.Set(h[0], h[1])
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &curlResponse{status: res.StatusCode, header: res.Header, body: data}, nil
}

func statusLine(code int) string {
	return fmt.Sprintf("HTTP/1.1 %d %s", code, http.StatusText(code))
}

// output is what curl would print for the response.
func (r *curlRequest) output(res *curlResponse) (string, error) {
	var b strings.Builder
	if !r.discard {
		if r.include {
			b.WriteString(statusLine(res.status) + "\n")
			for _, k := range slices.Sorted(maps.Keys(res.header)) {
				for _, v := range res.header[k] {
					b.WriteString(k + ": " + v + "\n")
				}
			}
			b.WriteString("\n")
		}
		b.Write(res.body)
	}
	if r.hasWriteO {
		out := r.writeOut
		out = strings.ReplaceAll(out, `\n`, "\n")
		out = strings.ReplaceAll(out, "%{http_code}", strconv.Itoa(res.status))
		if strings.Contains(out, "%{") {
			return "", fmt.Errorf("curl -w %q: only %%{http_code} is supported", r.writeOut)
		}
		b.WriteString(out)
	}
	return b.String(), nil
}
