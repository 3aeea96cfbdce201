package statuspage

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"slices"
	"strings"
	"time"
)

// feedLimit is how many incidents the feeds carry, newest first.
const feedLimit = 50

// feedItems are the incidents and maintenances of the feeds, by last
// update, newest first.
func (p *Page) feedItems() []*Incident {
	all := append(p.allIncidents(), p.Maintenances...)
	sortByUpdate(all)
	if len(all) > feedLimit {
		all = all[:feedLimit]
	}
	return all
}

func sortByUpdate(list []*Incident) {
	slices.SortStableFunc(list, func(a, b *Incident) int {
		return cmp.Or(b.UpdatedAt.Compare(a.UpdatedAt), strings.Compare(a.ID, b.ID))
	})
}

// feedText is an incident's updates as plain text, newest first.
func feedText(inc *Incident) string {
	var b bytes.Buffer
	for i, u := range inc.Updates {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(u.CreatedAt.UTC().Format("2006-01-02 15:04 MST") + " – " + u.Status + ": " + u.Body)
	}
	return b.String()
}

type atomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
}

type atomText struct {
	Type string `xml:"type,attr,omitempty"`
	Body string `xml:",chardata"`
}

type atomEntry struct {
	ID        string   `xml:"id"`
	Title     string   `xml:"title"`
	Updated   string   `xml:"updated"`
	Published string   `xml:"published"`
	Link      atomLink `xml:"link"`
	Content   atomText `xml:"content"`
}

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Author  string      `xml:"author>name"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

// Atom is the incident feed in Atom. Links are relative to the feed
// (the site root) unless the page has a URL.
func (p *Page) Atom() ([]byte, error) {
	f := atomFeed{ID: "urn:statuspage:" + p.ID, Title: p.Title + " – incidents", Updated: rfc(p.UpdatedAt), Author: p.Title,
		Links: []atomLink{{Href: p.link("index.html"), Rel: "alternate", Type: "text/html"}, {Href: p.link("feed.atom"), Rel: "self", Type: "application/atom+xml"}}}
	for _, inc := range p.feedItems() {
		f.Entries = append(f.Entries, atomEntry{ID: "urn:statuspage:incident:" + inc.ID, Title: inc.Name,
			Updated: rfc(inc.UpdatedAt), Published: rfc(inc.CreatedAt), Link: atomLink{Href: p.link(inc.Path), Rel: "alternate", Type: "text/html"},
			Content: atomText{Type: "text", Body: feedText(inc)}})
	}
	return marshalXML(f)
}

type rssGUID struct {
	IsPermaLink bool   `xml:"isPermaLink,attr"`
	Value       string `xml:",chardata"`
}

type rssItem struct {
	Title       string  `xml:"title"`
	Link        string  `xml:"link"`
	GUID        rssGUID `xml:"guid"`
	PubDate     string  `xml:"pubDate"`
	Description string  `xml:"description"`
}

type rssFeed struct {
	XMLName       xml.Name  `xml:"rss"`
	Version       string    `xml:"version,attr"`
	Title         string    `xml:"channel>title"`
	Link          string    `xml:"channel>link"`
	Description   string    `xml:"channel>description"`
	LastBuildDate string    `xml:"channel>lastBuildDate"`
	Items         []rssItem `xml:"channel>item"`
}

// RSS is the incident feed in RSS 2.0.
func (p *Page) RSS() ([]byte, error) {
	f := rssFeed{Version: "2.0", Title: p.Title + " – incidents", Link: p.link("index.html"),
		Description: "Incidents and scheduled maintenance of " + p.Title, LastBuildDate: p.UpdatedAt.UTC().Format(time.RFC1123Z)}
	for _, inc := range p.feedItems() {
		f.Items = append(f.Items, rssItem{Title: inc.Name, Link: p.link(inc.Path), GUID: rssGUID{Value: "statuspage-incident-" + inc.ID + "-" + rfc(inc.UpdatedAt)},
			PubDate: inc.UpdatedAt.UTC().Format(time.RFC1123Z), Description: feedText(inc)})
	}
	return marshalXML(f)
}

func marshalXML(v any) ([]byte, error) {
	b, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}
