//! Words and sentences of a text, with their byte positions, so that every
//! finding points at the exact bytes it is about.

/// One word: a run of letters and digits, with inner apostrophes, hyphens
/// and dots between letters kept ("o'neil", "c-section", "u.s").
#[derive(Debug, Clone, Copy)]
pub struct Word<'a> {
    pub start: usize,
    pub end: usize,
    pub text: &'a str,
    /// The index of the sentence it is in.
    pub sentence: usize,
    /// The first word of its sentence.
    pub initial: bool,
}

impl Word<'_> {
    /// Starts with a capital letter and is not all capitals (an acronym or shouting).
    pub fn capitalized(&self) -> bool {
        let mut chars = self.text.chars();
        let first_upper = chars.next().is_some_and(char::is_uppercase);
        first_upper && self.text.chars().any(char::is_lowercase)
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Splits a text into words, marking where sentences start: after `.`, `!`,
/// `?` or a line break (a dot after a single capital, as in "Mr. P.", does
/// not end a sentence).
pub fn words(text: &str) -> Vec<Word<'_>> {
    let mut out = Vec::with_capacity(text.len() / 5 + 1);
    let mut sentence = 0;
    let mut at_start = true;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_word_char(c) {
            let start = i;
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if is_word_char(d) {
                    end = j + d.len_utf8();
                    chars.next();
                } else if matches!(d, '\'' | '’' | '-') {
                    // Kept only between word characters.
                    let after = text[j + d.len_utf8()..].chars().next();
                    if after.is_some_and(is_word_char) {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                } else {
                    break;
                }
            }
            out.push(Word { start, end, text: &text[start..end], sentence, initial: at_start });
            at_start = false;
        } else if matches!(c, '!' | '?' | '\n') || (c == '.' && ends_sentence(text, i, out.last())) {
            if !at_start {
                sentence += 1;
            }
            at_start = true;
        }
    }
    out
}

/// Whether the dot at `at` ends a sentence: not after a lone capital or a
/// title ("Mr. P. was", "Dr. Rao"), and followed by space or the end.
fn ends_sentence(text: &str, at: usize, last: Option<&Word<'_>>) -> bool {
    let followed_by_space = text[at + 1..].chars().next().is_none_or(char::is_whitespace);
    if !followed_by_space {
        return false;
    }
    match last {
        Some(w) if w.end == at => {
            let short_title = matches!(
                w.text.to_ascii_lowercase().as_str(),
                "mr" | "mrs" | "ms" | "dr" | "st" | "jr" | "sr" | "mx" | "fr" | "rev" | "no" | "vs"
            );
            let initial = w.text.chars().count() == 1 && w.text.chars().all(char::is_uppercase);
            !(short_title || initial)
        }
        _ => true,
    }
}

/// Whether the bytes around `start..end` are not letters or digits: a
/// dictionary match that is a whole word, not part of one.
pub fn whole_word(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_their_bytes_and_sentences() {
        let text = "Thanks, Mr. P. for the c-section tips! Maria’s ok.";
        let w = words(text);
        let names: Vec<&str> = w.iter().map(|w| w.text).collect();
        assert_eq!(names, ["Thanks", "Mr", "P", "for", "the", "c-section", "tips", "Maria’s", "ok"]);
        assert!(w.iter().all(|w| &text[w.start..w.end] == w.text));
        assert_eq!(w[2].sentence, 0, "the dot after a title or an initial does not end a sentence");
        assert!(w[7].initial && w[7].sentence == 1);
    }

    #[test]
    fn a_whole_word_is_not_part_of_another() {
        assert!(whole_word("an MRI today", 3, 6));
        assert!(!whole_word("primary", 2, 5));
    }
}
