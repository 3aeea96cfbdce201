package incidents

import (
	"bytes"
	"html/template"
	"net/url"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// HeadingShift is added to the level of a body's headings (at most h6): a
// body's "# Cause" is an h4 under the page's h1, its sections' h2 and the
// incident's h3, so that the page's outline stays whole.
const HeadingShift = 3

// linkRel is the rel of every link of a body: the page vouches for none of
// them and gives them neither its window nor its address.
const linkRel = "nofollow noopener noreferrer"

// md is CommonMark with GitHub's strikethrough and bare-URL links, raw HTML
// escaped (goldmark's default leaves it out; html.WithUnsafe is never set)
// and links limited by safeLinks.
var md = goldmark.New(
	goldmark.WithExtensions(extension.Strikethrough, extension.Linkify),
	goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(safeLinks{}, 100))),
	goldmark.WithRendererOptions(renderer.WithNodeRenderers(util.Prioritized(escapeHTML{}, 100))),
)

// Markdown renders an update's body as HTML that is safe to put in a page as
// is: raw HTML shows as the text it is written as; links keep only http,
// https and mailto targets (any other link keeps its text and loses its
// target); images become links to them with their alt text, so that the
// page loads nothing from elsewhere; headings move down HeadingShift
// levels.
func Markdown(src string) template.HTML {
	var buf bytes.Buffer
	if err := md.Convert([]byte(src), &buf); err != nil {
		// Writing to a bytes.Buffer does not fail; should goldmark ever
		// fail, show the source as plain text rather than nothing.
		return template.HTML("<p>" + template.HTMLEscapeString(src) + "</p>\n")
	}
	return template.HTML(buf.String())
}

// SafeURL reports whether a link may point at u: an absolute http or https
// URL with a host, or a mailto: address.
func SafeURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	switch strings.ToLower(p.Scheme) {
	case "http", "https":
		return p.Host != ""
	case "mailto":
		return p.Opaque != ""
	}
	return false
}

// safeLinks rewrites the tree before rendering: unsafe links lose their
// target, images become links, headings move down.
type safeLinks struct{}

func (safeLinks) Transform(doc *ast.Document, reader text.Reader, _ parser.Context) {
	source := reader.Source()
	var unwrap, images, autolinks []ast.Node
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			n.Level = min(n.Level+HeadingShift, 6)
		case *ast.Link:
			if SafeURL(string(n.Destination)) {
				n.SetAttributeString("rel", []byte(linkRel))
			} else {
				unwrap = append(unwrap, n)
			}
		case *ast.AutoLink:
			if u := autoLinkURL(n, source); SafeURL(u) {
				n.SetAttributeString("rel", []byte(linkRel))
			} else {
				autolinks = append(autolinks, n)
			}
		case *ast.Image:
			images = append(images, n)
		}
		return ast.WalkContinue, nil
	})
	// Changed after the walk: the walk must not see its tree move.
	for _, n := range images {
		img := n.(*ast.Image)
		if !SafeURL(string(img.Destination)) {
			unwrap = append(unwrap, img)
			continue
		}
		link := ast.NewLink()
		link.Destination, link.Title = img.Destination, img.Title
		link.SetAttributeString("rel", []byte(linkRel))
		moveChildren(img, link)
		if !link.HasChildren() {
			link.AppendChild(link, ast.NewString(img.Destination))
		}
		img.Parent().ReplaceChild(img.Parent(), img, link)
	}
	for _, n := range unwrap {
		parent := n.Parent()
		for c := n.FirstChild(); c != nil; {
			next := c.NextSibling()
			parent.InsertBefore(parent, n, c)
			c = next
		}
		parent.RemoveChild(parent, n)
	}
	for _, n := range autolinks {
		label := ast.NewString(n.(*ast.AutoLink).Label(source))
		n.Parent().ReplaceChild(n.Parent(), n, label)
	}
}

// autoLinkURL is the target of an autolink as the renderer writes it.
func autoLinkURL(n *ast.AutoLink, source []byte) string {
	u := string(n.URL(source))
	if n.AutoLinkType == ast.AutoLinkEmail && !strings.HasPrefix(strings.ToLower(u), "mailto:") {
		u = "mailto:" + u
	}
	return u
}

func moveChildren(from, to ast.Node) {
	for c := from.FirstChild(); c != nil; {
		next := c.NextSibling()
		to.AppendChild(to, c)
		c = next
	}
}

// escapeHTML renders raw HTML, inline or as a block, as the text it is
// written as.
type escapeHTML struct{}

func (escapeHTML) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindRawHTML, renderRawHTML)
	reg.Register(ast.KindHTMLBlock, renderHTMLBlock)
}

func renderRawHTML(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		segs := node.(*ast.RawHTML).Segments
		for i := range segs.Len() {
			seg := segs.At(i)
			_, _ = w.Write(util.EscapeHTML(seg.Value(source)))
		}
	}
	return ast.WalkSkipChildren, nil
}

func renderHTMLBlock(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	n := node.(*ast.HTMLBlock)
	var raw []byte
	lines := n.Lines()
	for i := range lines.Len() {
		seg := lines.At(i)
		raw = append(raw, seg.Value(source)...)
	}
	if n.HasClosure() {
		raw = append(raw, n.ClosureLine.Value(source)...)
	}
	_, _ = w.WriteString("<p>")
	_, _ = w.Write(util.EscapeHTML(bytes.TrimRight(raw, "\n")))
	_, _ = w.WriteString("</p>\n")
	return ast.WalkSkipChildren, nil
}
