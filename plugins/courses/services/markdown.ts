import { Marked } from 'marked';
import sanitizeHtml from 'sanitize-html';

const marked = new Marked({ gfm: true, breaks: false, async: false });

/**
 * Lesson text is Markdown written by trainers. It is rendered, then sanitised with an allow-list:
 * no script, no event handlers, no iframes, links only to http(s) and mailto, and external links
 * open safely. The result is safe to insert into a page unescaped.
 */
export function renderMarkdown(source: string): string {
  const html = marked.parse(source) as string;
  return sanitizeHtml(html, {
    allowedTags: [
      'h2',
      'h3',
      'h4',
      'p',
      'br',
      'hr',
      'strong',
      'em',
      'del',
      'code',
      'pre',
      'blockquote',
      'ul',
      'ol',
      'li',
      'a',
      'table',
      'thead',
      'tbody',
      'tr',
      'th',
      'td',
      'img',
    ],
    allowedAttributes: { a: ['href', 'title', 'rel', 'target'], img: ['src', 'alt', 'title'], th: ['align'], td: ['align'] },
    allowedSchemes: ['http', 'https', 'mailto'],
    // Images only from this site (course material): the page's CSP would block others anyway.
    allowedSchemesByTag: { img: [] },
    allowProtocolRelative: false,
    transformTags: {
      // Headings start at h2: the page's h1 is the item title.
      h1: 'h2',
      // Built from href and title only: trainers cannot set rel or target themselves.
      a: (tagName, attribs) => ({
        tagName,
        attribs: {
          ...(attribs.href ? { href: attribs.href } : {}),
          ...(attribs.title ? { title: attribs.title } : {}),
          ...(/^https?:/i.test(attribs.href ?? '') ? { rel: 'noopener noreferrer', target: '_blank' } : {}),
        },
      }),
    },
  });
}
