//! Server-rendered pages. No script, no inline styles (the CSP forbids
//! both); every form works without JavaScript and every control has a label.

use axum::http::StatusCode;
use maud::{html, Markup, DOCTYPE};

use crate::auth::SessionPrincipal;
use crate::domain::Account;
use crate::domain::Finding;
use crate::http::extract::CSRF_FIELD;
use crate::identity::Enrollment;
use crate::platforms::sandbox::SandboxPost;
use crate::queue::ReviewState;
use crate::review::Detail;

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Custodian" }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header { p class="brand" { "Custodian" } }
                main id="main" { h1 { (title) } (body) }
            }
        }
    }
}

fn csrf(token: &str) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(token); }
}

fn alert(message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            p class="alert" role="alert" { (m) }
        }
    }
}

pub fn sign_in() -> Markup {
    layout(
        "Sign in",
        html! {
            p { "Sign in with your organization's account. You will then confirm a code from your authenticator app." }
            p { a class="button" href="/auth/login" { "Sign in with single sign-on" } }
        },
    )
}

pub fn enroll(enrollment: &Enrollment, csrf_token: &str, error: Option<&str>) -> Markup {
    layout(
        "Set up your authenticator app",
        html! {
            (alert(error))
            ol {
                li { "Open your authenticator app and add an account by scanning this code." }
                li { "Enter the six-digit code the app shows." }
            }
            img class="qr" src={ "data:image/png;base64," (enrollment.qr_png_base64) }
                alt="QR code for your authenticator app (the key is also shown as text below)";
            p { "Cannot scan? Enter this key instead: " code class="secret" { (enrollment.secret_base32) } }
            form method="post" action="/auth/mfa/enroll" {
                (csrf(csrf_token))
                label for="code" { "Six-digit code" }
                input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                    pattern="[0-9]{6}" maxlength="6" required autofocus;
                button type="submit" { "Turn on two-factor sign-in" }
            }
        },
    )
}

pub fn recovery_codes(codes: &[String]) -> Markup {
    layout(
        "Save your recovery codes",
        html! {
            p { "Each code signs you in once if you lose your authenticator app. They are shown only now: store them somewhere safe." }
            ul class="codes" { @for c in codes { li { code { (c) } } } }
            p { a class="button" href="/" { "I have saved them — continue" } }
        },
    )
}

pub fn verify(csrf_token: &str, error: Option<&str>) -> Markup {
    layout(
        "Confirm it's you",
        html! {
            (alert(error))
            form method="post" action="/auth/mfa/verify" {
                (csrf(csrf_token))
                label for="code" { "Code from your authenticator app, or a recovery code" }
                input id="code" name="code" type="text" autocomplete="one-time-code" maxlength="16" required autofocus;
                button type="submit" { "Verify" }
            }
        },
    )
}

/// The signed-in home page. `accounts`: those policy lets the user act on,
/// with the actions it allows (None: they could not be listed).
pub fn home(
    principal: &SessionPrincipal,
    accounts: Option<&[(Account, Vec<&'static str>)]>,
    help_contact: &str,
    csrf_token: &str,
) -> Markup {
    let user = principal.user();
    layout(
        "You are signed in",
        html! {
            dl {
                dt { "Name" } dd { (user.name.as_deref().unwrap_or("—")) }
                dt { "Email" } dd { (user.email.as_deref().unwrap_or("—")) }
                dt { "Roles" } dd { (roles_text(principal)) }
                dt { "Session ends" } dd { time datetime=(principal.session.expires_at().rfc3339()) { (principal.session.expires_at().rfc3339()) } " (sooner if idle)" }
            }
            @for warning in principal.access().warnings() {
                p class="alert" role="status" { (warning) }
            }
            h2 { "Your accounts" }
            (your_accounts(accounts, help_contact))
            (logout_form(csrf_token))
        },
    )
}

fn your_accounts(accounts: Option<&[(Account, Vec<&'static str>)]>, help_contact: &str) -> Markup {
    let Some(accounts) = accounts else {
        return html! { p class="alert" role="alert" { "Your accounts cannot be listed right now. Reload this page in a moment." } };
    };
    if accounts.is_empty() {
        return html! {
            p role="status" {
                "No account is open to you: no policy lets you act on any account. "
                "If your work needs one, ask " (help_contact) "."
            }
        };
    }
    let elsewhere = accounts.iter().any(|(a, _)| a.platform != "sandbox");
    html! {
        p { "The accounts you may act on, and what you may do on each." }
        ul {
            @for (a, actions) in accounts {
                li {
                    @if a.platform == "sandbox" {
                        a href={ "/sandbox/" (a.id) } { (a.handle) } " (practice account: posts stay in Custodian; nobody outside sees them)"
                    } @else {
                        (a.handle) " on " (a.platform)
                    }
                    ": " (actions.join(", "))
                }
            }
        }
        @if elsewhere {
            p { "Act on accounts other than practice ones through the JSON API (" code { "GET /api/v1/accounts" } ") or an API token." }
        }
    }
}

fn roles_text(principal: &SessionPrincipal) -> String {
    let grants: Vec<String> =
        principal.access().grants.iter().map(|g| format!("{} (through {})", g.role, g.group)).collect();
    if grants.is_empty() {
        "none".to_owned()
    } else {
        grants.join(", ")
    }
}

/// A sandbox account's timeline: posts newest first, each with its replies.
pub fn timeline(account: &Account, posts: &[SandboxPost], csrf_token: &str) -> Markup {
    let top: Vec<&SandboxPost> = posts.iter().filter(|p| p.in_reply_to.is_none()).collect();
    let replies =
        |id: &str| posts.iter().filter(move |p| p.in_reply_to.as_deref() == Some(id)).collect::<Vec<_>>();
    layout(
        &format!("{} (practice account)", account.handle),
        html! {
            p { "A sandbox account: what is posted here stays in Custodian. To practise moderation, comment on a post as a member of the public: Custodian screens it like any platform's comment, and hides what policy holds." }
            form method="post" action={ "/accounts/" (account.id) "/posts" } {
                (csrf(csrf_token))
                label for="text" { "New post" }
                textarea id="text" name="text" rows="3" maxlength="500" required {}
                button type="submit" { "Publish" }
            }
            @if top.is_empty() {
                p role="status" { "Nothing has been posted yet." }
            }
            ol class="timeline" {
                @for post in &top {
                    li { (thread(account, post, &replies(&post.id), csrf_token)) }
                }
            }
            p { a href="/" { "Back to Custodian" } }
        },
    )
}

/// One post of a sandbox account (where a publication's URL points), with its replies.
pub fn sandbox_thread(
    account: &Account,
    post: &SandboxPost,
    replies: &[SandboxPost],
    csrf_token: &str,
) -> Markup {
    let replies: Vec<&SandboxPost> = replies.iter().collect();
    layout(
        &format!("A post of {} (practice account)", account.handle),
        html! {
            (thread(account, post, &replies, csrf_token))
            p { a href={ "/sandbox/" (account.id) } { "The whole timeline" } " · " a href="/" { "Back to Custodian" } }
        },
    )
}

/// A post, the replies to it, and the form to comment on it as the public would.
fn thread(account: &Account, post: &SandboxPost, replies: &[&SandboxPost], csrf_token: &str) -> Markup {
    html! {
        (sandbox_post(post))
        @if !replies.is_empty() {
            ol class="replies" {
                @for reply in replies { li { (sandbox_post(reply)) } }
            }
        }
        (practice_comment_form(account, post, csrf_token))
    }
}

/// For training: a comment on the post as someone else would write it,
/// which the moderation poller then screens like any platform's.
fn practice_comment_form(account: &Account, post: &SandboxPost, csrf_token: &str) -> Markup {
    let author = format!("author-{}", post.id);
    let text = format!("comment-{}", post.id);
    html! {
        details {
            summary { "Comment as a member of the public (practice)" }
            form method="post" action={ "/sandbox/" (account.id) "/posts/" (post.id) "/comments" } {
                (csrf(csrf_token))
                label for=(author) { "Commenter's name" }
                input type="text" id=(author) name="author" maxlength="64" required;
                label for=(text) { "Comment" }
                textarea id=(text) name="text" rows="2" maxlength="500" required {}
                button type="submit" { "Comment" }
            }
        }
    }
}

fn sandbox_post(post: &SandboxPost) -> Markup {
    html! {
        article class={ "post" @if post.hidden { " hidden-reply" } } {
            // A hidden comment is shown as a platform shows it to the public:
            // not its words or author (they may disclose PHI; moderators read
            // them in the moderation queue, recorded).
            @if post.hidden {
                p class="meta" { "Hidden by the account · " time datetime=(post.created_at.rfc3339()) { (post.created_at.rfc3339()) } }
                p { "A moderator reads it in the moderation queue." }
            } @else {
                p class="meta" { strong { (post.author) } " · " time datetime=(post.created_at.rfc3339()) { (post.created_at.rfc3339()) }
                    @if post.from_public { " · practice comment from the public" } }
                p { (post.text) }
            }
            @if let Some(link) = &post.link { p { a href=(link) rel="nofollow noopener" { (link) } } }
            @if post.has_image { p class="meta" { "[image attached]" } }
        }
    }
}

/// A queued post, as its author or a reviewer reads it: where it stands,
/// and what the screen found, highlighted in the text.
pub fn review(detail: &Detail, csrf_token: &str, mine: bool) -> Markup {
    let r = &detail.review;
    layout(
        &format!("Post {}", r.state.as_str().replace('_', " ")),
        html! {
            p role="status" { (state_words(r.state)) }
            dl {
                dt { "Account" } dd { (r.account_id) }
                dt { "Action" } dd { (r.action) }
                dt { "Submitted" } dd { time datetime=(r.created_at.rfc3339()) { (r.created_at.rfc3339()) } }
                @if let (Some(at), Some(local)) = (r.publish_at, &r.publish_at_local) {
                    dt { "To be published" } dd { time datetime=(at.rfc3339()) { (local) } }
                }
                @if r.state.waiting() {
                    dt { "Expires" } dd { time datetime=(r.expires_at.rfc3339()) { (r.expires_at.rfc3339()) } }
                }
                dt { "Approvals" } dd { (r.approvals.len()) " of " (r.approvals_required) }
                @if let Some(reason) = &r.reason { dt { "Reason" } dd { (reason) } }
            }
            @match &detail.content {
                Some(text) => {
                    h2 { "What it says" }
                    p class="screened" { (highlighted(text, &r.findings)) }
                }
                None => p { "Its content is no longer kept: the journal holds its digest and the findings." }
            }
            h2 { "What the screen found" }
            @if r.findings.is_empty() {
                p { "Nothing." }
            } @else {
                ol class="findings" {
                    @for f in &r.findings {
                        li {
                            strong { (f.kind.as_str()) } " (" code { (f.rule) } "): " (f.explanation)
                            @if let Some(words) = detail.content.as_deref().and_then(|t| t.get(f.start..f.end)) {
                                " — “" mark { (words) } "”"
                            }
                        }
                    }
                }
            }
            @if mine && matches!(r.state, ReviewState::Held | ReviewState::Scheduled | ReviewState::PendingReschedule) {
                form method="post" action={ "/reviews/" (r.id) "/withdraw" } {
                    (csrf(csrf_token))
                    button type="submit" { "Withdraw it" }
                }
            }
            p { a href="/" { "Back to Custodian" } }
        },
    )
}

fn state_words(state: ReviewState) -> &'static str {
    match state {
        ReviewState::Held => "It waits for a compliance reviewer who is not you. Nothing was published.",
        ReviewState::Scheduled => "It waits for its time, then goes out as you.",
        ReviewState::PendingReschedule => "It was approved after its time: give it a new time.",
        ReviewState::Approved => "It is being published now.",
        ReviewState::Published => "It was published.",
        ReviewState::Failed => "It was approved, but not published: see the reason.",
        ReviewState::Interrupted => {
            "Custodian stopped while publishing it: check the account before posting it again."
        }
        ReviewState::Rejected => "A reviewer rejected it: see the reason.",
        ReviewState::Expired => "Nobody decided it in time.",
        ReviewState::Withdrawn => "It was withdrawn.",
        ReviewState::Orphaned => "Its author's access ended; a reviewer may take it over.",
    }
}

/// `text` with every finding's span marked, its kind and rule in the title.
fn highlighted(text: &str, findings: &[Finding]) -> Markup {
    let mut cuts: Vec<usize> = vec![0, text.len()];
    for f in findings.iter().filter(|f| f.start < f.end && text.get(f.start..f.end).is_some()) {
        cuts.extend([f.start, f.end]);
    }
    cuts.sort_unstable();
    cuts.dedup();
    html! {
        @for pair in cuts.windows(2) {
            @let (a, b) = (pair[0], pair[1]);
            @let piece = text.get(a..b).unwrap_or("");
            @let over: Vec<&Finding> = findings.iter().filter(|f| f.start <= a && b <= f.end).collect();
            @if over.is_empty() {
                (piece)
            } @else {
                @let title = over.iter().map(|f| format!("{} ({}): {}", f.kind.as_str(), f.rule, f.explanation)).collect::<Vec<_>>().join("; ");
                mark title=(title) { (piece) }
            }
        }
    }
}

pub fn connected(account: &Account) -> Markup {
    layout(
        "Account connected",
        html! {
            p role="status" { "Custodian now holds the " (account.platform) " account " strong { (account.handle) } ". Its token is sealed; nobody will see it." }
            dl {
                dt { "Tags" } dd { (if account.tags.is_empty() { "none".to_owned() } else { account.tags.join(", ") }) }
                dt { "Scopes granted" } dd { (if account.scopes.is_empty() { "as requested".to_owned() } else { account.scopes.join(" ") }) }
            }
            p { a href="/" { "Back to Custodian" } }
        },
    )
}

pub fn logout_form(csrf_token: &str) -> Markup {
    html! {
        form method="post" action="/auth/logout" {
            (csrf(csrf_token))
            button type="submit" { "Sign out" }
        }
    }
}

pub fn error(status: StatusCode, reason: &str, remedy: &str) -> Markup {
    let title = status.canonical_reason().unwrap_or("Error");
    layout(
        title,
        html! {
            p class="alert" role="alert" { (reason) }
            p { (remedy) }
            p { a href="/" { "Back to the start page" } }
        },
    )
}
