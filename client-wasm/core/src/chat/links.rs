//! Web links in chat messages, pure: splits a message into plain text and `http://` or
//! `https://` links, so the chat panel can make exactly those clickable. Any other scheme
//! (`javascript:`, `data:`, `file:`…) stays text. The panel still renders every piece as a text
//! node and sets a link's `href` as an attribute, so nothing in a message is ever parsed as HTML.

/// One piece of a chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text shown as it is.
    Text(String),
    /// A web address, shown as itself and linked to itself.
    Link(String),
}

/// The schemes made into links, compared without regard to case.
const SCHEMES: [&str; 2] = ["https://", "http://"];

/// Splits `text` into pieces, in order; joined together they give `text` back.
pub fn pieces(text: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut plain_from = 0;
    let mut at = 0;
    while let Some(c) = text[at..].chars().next() {
        match link_at(text, at) {
            Some(end) => {
                if plain_from < at {
                    pieces.push(Piece::Text(text[plain_from..at].to_owned()));
                }
                pieces.push(Piece::Link(text[at..end].to_owned()));
                at = end;
                plain_from = end;
            }
            None => at += c.len_utf8(),
        }
    }
    if plain_from < text.len() {
        pieces.push(Piece::Text(text[plain_from..].to_owned()));
    }
    pieces
}

/// The end of the link starting at byte `start` of `text`, if one starts there.
fn link_at(text: &str, start: usize) -> Option<usize> {
    // A link starts a word: in `xhttp://…` the scheme is part of something else.
    if text[..start]
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric)
    {
        return None;
    }
    let rest = &text[start..];
    let scheme = SCHEMES.iter().find(|scheme| {
        rest.get(..scheme.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(scheme))
    })?;
    // The address runs to the next space, or to a character that cannot be part of one and
    // usually surrounds it in prose.
    let run = rest
        .find(|c: char| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '`'))
        .unwrap_or(rest.len());
    let end = without_trailing_punctuation(&rest[..run]);
    // Something must follow the scheme, and it must be a host rather than more slashes.
    let host = rest.get(scheme.len()..end)?;
    if !host.chars().next().is_some_and(char::is_alphanumeric) {
        return None;
    }
    Some(start + end)
}

/// The length of `candidate` without the punctuation that ends the sentence around it rather
/// than the address: `.`, `,`, `!`… and a closing bracket that has no opening one inside the
/// address (`(see https://a.example/x)`, but `https://a.example/wiki/Foo_(bar)` keeps its own).
fn without_trailing_punctuation(candidate: &str) -> usize {
    let mut end = candidate.len();
    while let Some(last) = candidate[..end].chars().next_back() {
        let kept = &candidate[..end];
        let unbalanced =
            |open: char, close: char| kept.matches(close).count() > kept.matches(open).count();
        let trailing = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '\'' => true,
            ')' => unbalanced('(', ')'),
            ']' => unbalanced('[', ']'),
            '}' => unbalanced('{', '}'),
            _ => false,
        };
        if !trailing {
            break;
        }
        end -= last.len_utf8();
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Piece {
        Piece::Text(value.into())
    }

    fn link(value: &str) -> Piece {
        Piece::Link(value.into())
    }

    #[test]
    fn plain_text_is_one_text_piece() {
        assert_eq!(pieces("hello there"), vec![text("hello there")]);
        assert_eq!(pieces(""), Vec::<Piece>::new());
    }

    #[test]
    fn http_and_https_addresses_become_links() {
        assert_eq!(
            pieces("see https://example.org/x and http://a.example/?q=1#top now"),
            vec![
                text("see "),
                link("https://example.org/x"),
                text(" and "),
                link("http://a.example/?q=1#top"),
                text(" now"),
            ]
        );
        assert_eq!(
            pieces("HTTPS://EXAMPLE.ORG"),
            vec![link("HTTPS://EXAMPLE.ORG")]
        );
    }

    #[test]
    fn other_schemes_stay_text() {
        for message in [
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "ftp://example.org/x",
            "JaVaScRiPt://example.org/%0aalert(1)",
            "mailto:someone@example.org",
        ] {
            assert_eq!(pieces(message), vec![text(message)], "{message}");
        }
    }

    #[test]
    fn a_scheme_inside_a_word_is_not_a_link() {
        assert_eq!(
            pieces("xhttps://example.org"),
            vec![text("xhttps://example.org")]
        );
        assert_eq!(
            pieces("éhttps://example.org"),
            vec![text("éhttps://example.org")]
        );
    }

    #[test]
    fn a_link_needs_a_host() {
        for message in ["https://", "https:// x", "https:///path", "http://."] {
            assert_eq!(pieces(message), vec![text(message)], "{message}");
        }
    }

    #[test]
    fn trailing_punctuation_is_not_part_of_the_link() {
        assert_eq!(
            pieces("Look: https://example.org/x."),
            vec![text("Look: "), link("https://example.org/x"), text(".")]
        );
        assert_eq!(
            pieces("https://a.example, https://b.example!?"),
            vec![
                link("https://a.example"),
                text(", "),
                link("https://b.example"),
                text("!?"),
            ]
        );
        assert_eq!(
            pieces("'https://a.example/it's'"),
            vec![text("'"), link("https://a.example/it's"), text("'")]
        );
    }

    #[test]
    fn brackets_close_the_sentence_unless_the_address_opened_them() {
        assert_eq!(
            pieces("(see https://example.org/x)"),
            vec![text("(see "), link("https://example.org/x"), text(")")]
        );
        assert_eq!(
            pieces("https://en.wikipedia.org/wiki/Foo_(bar)."),
            vec![link("https://en.wikipedia.org/wiki/Foo_(bar)"), text(".")]
        );
        assert_eq!(
            pieces("[https://example.org/a[1]]"),
            vec![text("["), link("https://example.org/a[1]"), text("]")]
        );
    }

    #[test]
    fn markup_around_an_address_is_not_taken_into_it() {
        assert_eq!(
            pieces(r#"<a href="https://example.org/x">y</a>"#),
            vec![
                text(r#"<a href=""#),
                link("https://example.org/x"),
                text(r#"">y</a>"#),
            ]
        );
    }

    #[test]
    fn pieces_join_back_into_the_message() {
        let message = "é→ https://ex.org/ü?a=(1) javascript:x https://b.example. fin";
        let joined: String = pieces(message)
            .into_iter()
            .map(|piece| match piece {
                Piece::Text(s) | Piece::Link(s) => s,
            })
            .collect();
        assert_eq!(joined, message);
        assert!(pieces(message).contains(&link("https://ex.org/ü?a=(1)")));
    }
}
