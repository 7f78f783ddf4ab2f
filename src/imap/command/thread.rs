//! THREAD and UID THREAD (RFC 5256 §4–5): ORDEREDSUBJECT and REFERENCES.
//!
//! The messages are those the search program matches (`search::matching`), with the keys SORT
//! uses (`sort::load`). Both algorithms build a [`Forest`] of containers, which
//! [`write_threads`] turns into the `* THREAD` line.
//!
//! Hostile mail cannot make this recurse or loop: references are read with loops bounded by the
//! number of containers, parent chains are walked at most [`MAX_WALK`] steps (a link that would
//! need a longer walk to prove it makes no loop is not made), reference cycles are refused by
//! RFC 5256's own loop check, and pruning, sorting and writing use explicit work lists. A
//! message keeps at most `mime::sort::MAX_REFERENCES` references. The whole command shares
//! SEARCH's time budget.

use std::collections::HashMap;
use std::time::Instant;

use crate::imap::encode::ResponseCode;
use crate::imap::response::{Completion, Out};
use crate::imap::session::Ctx;
use crate::imap::types::{AString, Addressing, SearchKey, ThreadAlgorithm};

use super::search;
use super::sort::{self, Sortable};

/// Steps a walk up a parent chain may take (the loop check of RFC 5256 §4 step 1).
pub const MAX_WALK: usize = 10_000;

/// Runs THREAD / UID THREAD.
pub fn run(
    ctx: &mut Ctx<'_>,
    out: &mut Out<'_>,
    addressing: Addressing,
    algorithm: &ThreadAlgorithm,
    charset: &AString,
    key: &SearchKey,
) -> Completion {
    if let ThreadAlgorithm::Other(name) = algorithm {
        return Completion::bad(
            ResponseCode::ClientBug,
            format!(
                "Unknown threading algorithm {}; ORDEREDSUBJECT and REFERENCES are offered",
                name.as_str()
            ),
        );
    }
    let deadline = search::deadline(ctx);
    let found = match search::matching(ctx, "THREAD", Some(charset), key, deadline) {
        Ok(found) => found,
        Err(c) => return c,
    };
    let items = match sort::load(ctx, "THREAD", addressing, &found, deadline) {
        Ok(items) => items,
        Err(c) => return c,
    };
    let msgs: Vec<ThreadMsg<'_>> = items.iter().map(ThreadMsg::of).collect();
    let forest = match algorithm {
        ThreadAlgorithm::OrderedSubject => ordered_subject(&msgs),
        _ => match references(&msgs, deadline) {
            Some(f) => f,
            None => return search::out_of_time(ctx, "THREAD"),
        },
    };
    let numbers: Vec<u32> = items.iter().map(|s| s.number).collect();
    let mut line = String::from("* THREAD");
    write_threads(&mut line, &forest, &numbers);
    line.push_str("\r\n");
    out.text(&line);
    Completion::ok("THREAD completed")
}

/// What threading needs of one message; messages are given in sequence order.
#[derive(Debug, Clone, Copy)]
pub struct ThreadMsg<'a> {
    /// Sent date (RFC 5256 §2.2), Unix seconds.
    pub sent: i64,
    /// Base subject, canonical.
    pub subject: &'a str,
    /// Whether the subject was a reply or forward.
    pub reply: bool,
    /// Message-ID, if valid.
    pub message_id: Option<&'a str>,
    /// References (or the first In-Reply-To id).
    pub references: &'a [String],
}

impl<'a> ThreadMsg<'a> {
    fn of(s: &'a Sortable) -> Self {
        ThreadMsg {
            sent: s.sent,
            subject: &s.keys.subject,
            reply: s.keys.subject_is_reply,
            message_id: s.keys.message_id.as_deref(),
            references: &s.keys.references,
        }
    }
}

/// A message or a dummy (a message referred to but not among those threaded).
#[derive(Debug, Clone, Default)]
struct Container {
    /// Index of the message in the input; None for a dummy.
    msg: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

/// Threads: containers and the top-level ones, in answer order.
#[derive(Debug, Default)]
pub struct Forest {
    nodes: Vec<Container>,
    roots: Vec<usize>,
}

/// THREAD=ORDEREDSUBJECT (RFC 5256 §4): messages grouped by base subject; in each thread the
/// first (by sent date) is the parent of all the others, which are siblings in sent-date order;
/// threads in the order of their first message's sent date. Ties go by sequence number.
pub fn ordered_subject(msgs: &[ThreadMsg<'_>]) -> Forest {
    let mut order: Vec<usize> = (0..msgs.len()).collect();
    order.sort_by(|&a, &b| {
        msgs[a]
            .subject
            .cmp(msgs[b].subject)
            .then(msgs[a].sent.cmp(&msgs[b].sent))
            .then(a.cmp(&b))
    });
    let mut f = Forest {
        nodes: (0..msgs.len())
            .map(|i| Container {
                msg: Some(i),
                ..Container::default()
            })
            .collect(),
        roots: Vec::new(),
    };
    let mut first: Option<usize> = None;
    for &i in &order {
        match first {
            Some(head) if msgs[head].subject == msgs[i].subject => {
                f.nodes[head].children.push(i);
                f.nodes[i].parent = Some(head);
            }
            _ => {
                f.roots.push(i);
                first = Some(i);
            }
        }
    }
    f.roots
        .sort_by(|&a, &b| msgs[a].sent.cmp(&msgs[b].sent).then(a.cmp(&b)));
    f
}

/// THREAD=REFERENCES (RFC 5256 §4), every step. None when `deadline` passes.
pub fn references(msgs: &[ThreadMsg<'_>], deadline: Instant) -> Option<Forest> {
    let mut f = Forest::default();
    // Step 1: one container per message. A missing or invalid Message-ID, or one an earlier
    // (lower sequence number) message already has, counts as a unique id: not in `by_id`.
    let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(msgs.len());
    for (i, m) in msgs.iter().enumerate() {
        f.nodes.push(Container {
            msg: Some(i),
            ..Container::default()
        });
        if let Some(id) = m.message_id {
            by_id.entry(id).or_insert(i);
        }
    }
    for (i, m) in msgs.iter().enumerate() {
        if i % 64 == 0 && Instant::now() >= deadline {
            return None;
        }
        // Step 1.A: link the references in order, each the parent of the next, where the
        // child has no parent yet and the link makes no loop. Unknown ids become dummies.
        let mut prev: Option<usize> = None;
        for r in m.references {
            let k = *by_id.entry(r.as_str()).or_insert_with(|| {
                f.nodes.push(Container::default());
                f.nodes.len() - 1
            });
            if let Some(p) = prev {
                if f.nodes[k].parent.is_none() && !f.within(p, k) {
                    f.link(p, k);
                }
            }
            prev = Some(k);
        }
        // Step 1.B: the last reference is the message's parent, replacing any parent step 1.A
        // gave it (a truncated References elsewhere), unless that makes a loop.
        f.unlink(i);
        if let Some(p) = prev {
            if !f.within(p, i) {
                f.link(p, i);
            }
        }
    }
    // Step 2: every container without a parent is a top-level one.
    f.roots = (0..f.nodes.len())
        .filter(|&n| f.nodes[n].parent.is_none())
        .collect();
    // Step 3: prune dummies.
    f.prune();
    // Step 4: sort the top level by sent date (a dummy by its first child, once its children
    // are sorted).
    for n in f.roots.clone() {
        if f.nodes[n].msg.is_none() {
            f.sort_children(msgs, Some(n));
        }
    }
    f.sort_children(msgs, None);
    // Step 5: gather top-level threads with the same base subject.
    f.merge_subjects(msgs);
    if Instant::now() >= deadline {
        return None;
    }
    // Step 6: sort every set of siblings by sent date, children before their parents (a dummy
    // sorts by its first child).
    for n in f.post_order() {
        f.sort_children(msgs, Some(n));
    }
    f.sort_children(msgs, None);
    Some(f)
}

impl Forest {
    /// Whether `a` is `b` or a descendant of `b` (linking `a` as `b`'s parent would then make a
    /// loop). A chain longer than [`MAX_WALK`] counts as a loop: the link is not made.
    fn within(&self, a: usize, b: usize) -> bool {
        let mut x = a;
        for _ in 0..MAX_WALK {
            if x == b {
                return true;
            }
            match self.nodes[x].parent {
                Some(p) => x = p,
                None => return false,
            }
        }
        true
    }

    fn link(&mut self, parent: usize, child: usize) {
        self.nodes[child].parent = Some(parent);
        self.nodes[parent].children.push(child);
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.nodes[child].parent.take() {
            self.nodes[p].children.retain(|&c| c != child);
        }
    }

    /// Step 3: a dummy without children goes; a dummy with children goes and its children take
    /// its place, except at the top level, where they do so only if there is one. Works list by
    /// list with an explicit work list, never recursion.
    fn prune(&mut self) {
        // None: the top level.
        let mut work: Vec<Option<usize>> = vec![None];
        while let Some(parent) = work.pop() {
            let list = match parent {
                None => std::mem::take(&mut self.roots),
                Some(p) => std::mem::take(&mut self.nodes[p].children),
            };
            let mut pending: std::collections::VecDeque<usize> = list.into();
            let mut kept = Vec::with_capacity(pending.len());
            while let Some(c) = pending.pop_front() {
                let is_dummy = self.nodes[c].msg.is_none();
                let n = self.nodes[c].children.len();
                if is_dummy && n == 0 {
                    continue;
                }
                if is_dummy && (parent.is_some() || n == 1) {
                    // Its children take its place, and are looked at in turn.
                    let children = std::mem::take(&mut self.nodes[c].children);
                    for &g in children.iter().rev() {
                        pending.push_front(g);
                    }
                    continue;
                }
                kept.push(c);
                work.push(Some(c));
            }
            for &c in &kept {
                self.nodes[c].parent = parent;
            }
            match parent {
                None => self.roots = kept,
                Some(p) => self.nodes[p].children = kept,
            }
        }
        // A top-level dummy whose children all went: nothing to show.
        let nodes = &self.nodes;
        self.roots
            .retain(|&r| nodes[r].msg.is_some() || !nodes[r].children.is_empty());
    }

    /// Sorts the children of `parent` (None: the top level) by sent date, then sequence number;
    /// a dummy by its first child (whose list is assumed sorted already).
    fn sort_children(&mut self, msgs: &[ThreadMsg<'_>], parent: Option<usize>) {
        let mut list = match parent {
            None => std::mem::take(&mut self.roots),
            Some(p) => std::mem::take(&mut self.nodes[p].children),
        };
        list.sort_by_key(|&c| self.sort_key(msgs, c));
        match parent {
            None => self.roots = list,
            Some(p) => self.nodes[p].children = list,
        }
    }

    /// (sent date, sequence index) of a container: its message's, or for a dummy its first
    /// descendant message's along first children.
    fn sort_key(&self, msgs: &[ThreadMsg<'_>], mut c: usize) -> (i64, usize) {
        for _ in 0..MAX_WALK {
            if let Some(m) = self.nodes[c].msg {
                return (msgs[m].sent, m);
            }
            match self.nodes[c].children.first() {
                Some(&first) => c = first,
                None => break,
            }
        }
        (i64::MAX, usize::MAX)
    }

    /// The thread subject of a top-level container: its message's base subject, or a dummy's
    /// first child's (step 5.B).
    fn thread_subject<'m>(&self, msgs: &[ThreadMsg<'m>], c: usize) -> Option<&'m str> {
        let m = match self.nodes[c].msg {
            Some(m) => m,
            None => self.nodes[*self.nodes[c].children.first()?].msg?,
        };
        Some(msgs[m].subject).filter(|s| !s.is_empty())
    }

    /// Step 5: threads at the top level with the same base subject are merged.
    fn merge_subjects(&mut self, msgs: &[ThreadMsg<'_>]) {
        let is_dummy = |f: &Forest, c: usize| f.nodes[c].msg.is_none();
        let is_reply = |f: &Forest, c: usize| f.nodes[c].msg.is_some_and(|m| msgs[m].reply);
        // 5.B: one container per subject: a dummy if there is one, else a non-reply if there
        // is one, else the first.
        let mut table: HashMap<&str, usize> = HashMap::new();
        for &c in &self.roots {
            let Some(subject) = self.thread_subject(msgs, c) else {
                continue;
            };
            match table.get(subject) {
                None => {
                    table.insert(subject, c);
                }
                Some(&t) => {
                    if !is_dummy(self, t)
                        && (is_dummy(self, c) || (is_reply(self, t) && !is_reply(self, c)))
                    {
                        table.insert(subject, c);
                    }
                }
            }
        }
        // 5.C: merge each top-level thread into its subject's table entry.
        let mut top = vec![false; self.nodes.len()];
        for &r in &self.roots {
            top[r] = true;
        }
        let snapshot = self.roots.clone();
        let mut added = Vec::new();
        for c in snapshot {
            if !top[c] {
                continue;
            }
            let Some(subject) = self.thread_subject(msgs, c) else {
                continue;
            };
            let Some(&t) = table.get(subject) else {
                continue;
            };
            if t == c {
                continue;
            }
            match (is_dummy(self, t), is_dummy(self, c)) {
                (true, true) => {
                    let children = std::mem::take(&mut self.nodes[c].children);
                    for g in children {
                        self.link(t, g);
                    }
                    top[c] = false;
                }
                (true, false) => {
                    self.link(t, c);
                    top[c] = false;
                }
                _ if is_reply(self, c) && !is_reply(self, t) => {
                    self.link(t, c);
                    top[c] = false;
                }
                _ => {
                    self.nodes.push(Container::default());
                    let d = self.nodes.len() - 1;
                    top.push(true);
                    self.link(d, t);
                    self.link(d, c);
                    top[t] = false;
                    top[c] = false;
                    table.insert(subject, d);
                    added.push(d);
                }
            }
        }
        let mut roots: Vec<usize> = std::mem::take(&mut self.roots);
        roots.extend(added);
        roots.retain(|&r| top[r]);
        for &r in &roots {
            self.nodes[r].parent = None;
        }
        self.roots = roots;
    }

    /// Every container below the top level, children before their parents.
    fn post_order(&self) -> Vec<usize> {
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<usize> = self.roots.clone();
        while let Some(n) = stack.pop() {
            order.push(n);
            stack.extend(self.nodes[n].children.iter().copied());
        }
        order.reverse();
        order
    }
}

/// Appends ` (thread)(thread)...` (RFC 5256 §5 `thread-data`): a chain of single children
/// as `1 2 3`, several children as `1 (2)(3)`, a dummy as a list of its children. Iterative:
/// a chain of any length is written without recursion.
pub fn write_threads(line: &mut String, f: &Forest, numbers: &[u32]) {
    enum Step {
        Node(usize),
        Text(&'static str),
    }
    if !f.roots.is_empty() {
        line.push(' ');
    }
    let mut stack: Vec<Step> = Vec::new();
    for &r in f.roots.iter().rev() {
        stack.push(Step::Text(")"));
        stack.push(Step::Node(r));
        stack.push(Step::Text("("));
    }
    while let Some(step) = stack.pop() {
        let n = match step {
            Step::Text(t) => {
                line.push_str(t);
                continue;
            }
            Step::Node(n) => n,
        };
        let node = &f.nodes[n];
        let children = &node.children;
        if let Some(m) = node.msg {
            line.push_str(&numbers[m].to_string());
        }
        match children.len() {
            0 => {}
            // `thread-members`: the only child continues the chain (a dummy's only child
            // stands in for it).
            1 => {
                if node.msg.is_some() {
                    stack.push(Step::Node(children[0]));
                    stack.push(Step::Text(" "));
                } else {
                    stack.push(Step::Node(children[0]));
                }
            }
            // `thread-nested = 2*thread-list`.
            _ => {
                for &c in children.iter().rev() {
                    stack.push(Step::Text(")"));
                    stack.push(Step::Node(c));
                    stack.push(Step::Text("("));
                }
                if node.msg.is_some() {
                    stack.push(Step::Text(" "));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test message: (sent, subject, reply, message id, references).
    type M = (i64, &'static str, bool, Option<&'static str>, Vec<String>);

    fn refs(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    fn thread(ms: &[M], algorithm: &str) -> String {
        let msgs: Vec<ThreadMsg<'_>> = ms
            .iter()
            .map(|(sent, subject, reply, id, r)| ThreadMsg {
                sent: *sent,
                subject,
                reply: *reply,
                message_id: *id,
                references: r,
            })
            .collect();
        let f = match algorithm {
            "ORDEREDSUBJECT" => ordered_subject(&msgs),
            _ => references(&msgs, Instant::now() + std::time::Duration::from_secs(60)).unwrap(),
        };
        let numbers: Vec<u32> = (1..=msgs.len() as u32).collect();
        let mut line = String::new();
        write_threads(&mut line, &f, &numbers);
        line.trim_start().to_owned()
    }

    #[test]
    fn ordered_subject_groups_by_base_subject_then_date() {
        let ms: Vec<M> = vec![
            (30, "B", false, None, vec![]),
            (10, "A", false, None, vec![]),
            (20, "B", true, None, vec![]),
            (40, "A", true, None, vec![]),
            (5, "C", false, None, vec![]),
            (25, "A", true, None, vec![]),
            (50, "B", true, None, vec![]),
        ];
        // A: 2 (10), 6 (25), 4 (40); B: 3 (20), 1 (30), 7 (50); C: 5 (5).
        assert_eq!(thread(&ms, "ORDEREDSUBJECT"), "(5)(2 (6)(4))(3 (1)(7))");
        assert_eq!(thread(&ms[..2], "ORDEREDSUBJECT"), "(2)(1)");
        assert_eq!(
            thread(
                &[(1, "x", false, None, vec![]), (2, "x", true, None, vec![])],
                "ORDEREDSUBJECT"
            ),
            "(1 2)"
        );
        assert_eq!(thread(&[], "ORDEREDSUBJECT"), "");
    }

    #[test]
    fn references_chains_branches_and_dummies() {
        let ms: Vec<M> = vec![
            (10, "a", false, Some("1@x"), vec![]),
            (20, "a", true, Some("2@x"), refs(&["1@x"])),
            (30, "a", true, Some("3@x"), refs(&["1@x", "2@x"])),
            (25, "a", true, Some("4@x"), refs(&["1@x"])),
            // Two replies to a message not in the set: a dummy parent kept at top level.
            (40, "b", true, Some("5@x"), refs(&["gone@x"])),
            (35, "b", true, Some("6@x"), refs(&["gone@x"])),
            // One reply to a missing message: the dummy goes, the reply is top level.
            (50, "c", true, Some("7@x"), refs(&["lost@x"])),
            // Through a missing middle message: the dummy is spliced out.
            (60, "d", false, Some("8@x"), vec![]),
            (70, "d", true, Some("9@x"), refs(&["8@x", "mid@x"])),
        ];
        assert_eq!(thread(&ms, "REFERENCES"), "(1 (2 3)(4))((6)(5))(7)(8 9)");
    }

    #[test]
    fn references_merges_subjects() {
        let ms: Vec<M> = vec![
            // Same subject, unrelated by references: the original adopts the reply.
            (10, "s", true, Some("r@x"), vec![]),
            (20, "s", false, Some("o@x"), vec![]),
            // Same subject, neither a reply: a new dummy holds both.
            (30, "t", false, Some("t1@x"), vec![]),
            (40, "t", false, Some("t2@x"), vec![]),
            // Empty subjects are never merged.
            (50, "", false, Some("e1@x"), vec![]),
            (60, "", false, Some("e2@x"), vec![]),
        ];
        assert_eq!(thread(&ms, "REFERENCES"), "(2 1)((3)(4))(5)(6)");
        // A dummy thread and a message with its subject: the message joins the dummy.
        let ms: Vec<M> = vec![
            (10, "u", true, Some("a@x"), refs(&["gone@x"])),
            (20, "u", true, Some("b@x"), refs(&["gone@x"])),
            (5, "u", false, Some("c@x"), vec![]),
        ];
        assert_eq!(thread(&ms, "REFERENCES"), "((3)(1)(2))");
    }

    #[test]
    fn references_survives_missing_duplicate_ids_and_cycles() {
        let ms: Vec<M> = vec![
            (10, "a", false, Some("1@x"), refs(&["2@x"])),
            (20, "b", false, Some("2@x"), refs(&["1@x"])),
            // Duplicate of 1@x: a unique id; it refers to 1@x, its child.
            (30, "c", false, Some("1@x"), refs(&["1@x"])),
            (40, "d", false, None, vec![]),
            // A self-reference.
            (50, "e", false, Some("5@x"), refs(&["5@x"])),
            // A cycle inside one References field.
            (
                60,
                "f",
                false,
                Some("6@x"),
                refs(&["p@x", "q@x", "p@x", "q@x"]),
            ),
        ];
        // 1 links under 2; then 2 under 1 would loop and stays top level.
        assert_eq!(thread(&ms, "REFERENCES"), "(2 1 3)(4)(5)(6)");
    }

    /// Random mailboxes (references to any id, earlier or later, missing or duplicated ids,
    /// cycles of every length): every message appears exactly once, and the lists balance.
    #[test]
    fn random_reference_graphs_give_well_formed_threads() {
        let mut seed: u64 = 5256;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let subjects = ["", "a", "b", "c"];
        for round in 0..200 {
            let n = 1 + next(40) as usize;
            let ids: Vec<String> = (0..n)
                .map(|_| format!("{}@x", next(n as u64 + 5)))
                .collect();
            let refs: Vec<Vec<String>> = (0..n)
                .map(|_| {
                    (0..next(4))
                        .map(|_| format!("{}@x", next(n as u64 + 5)))
                        .collect()
                })
                .collect();
            let msgs: Vec<ThreadMsg<'_>> = (0..n)
                .map(|i| ThreadMsg {
                    sent: next(10) as i64,
                    subject: subjects[next(4) as usize],
                    reply: next(2) == 0,
                    message_id: (next(8) != 0).then_some(ids[i].as_str()),
                    references: &refs[i],
                })
                .collect();
            let numbers: Vec<u32> = (1..=n as u32).collect();
            let far = Instant::now() + std::time::Duration::from_secs(60);
            for f in [references(&msgs, far).unwrap(), ordered_subject(&msgs)] {
                let mut line = String::new();
                write_threads(&mut line, &f, &numbers);
                let mut depth = 0i32;
                for c in line.chars() {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    assert!(depth >= 0, "round {round}: {line}");
                }
                assert_eq!(depth, 0, "round {round}: {line}");
                assert!(!line.contains("()"), "round {round}: {line}");
                let mut seen: Vec<u32> = line
                    .split(|c: char| !c.is_ascii_digit())
                    .filter(|t| !t.is_empty())
                    .map(|t| t.parse().unwrap())
                    .collect();
                seen.sort_unstable();
                assert_eq!(seen, numbers, "round {round}: {line}");
            }
        }
    }

    #[test]
    fn deep_chains_need_no_recursion() {
        let n = 21_000;
        let ids: Vec<String> = (0..n).map(|i| format!("{i}@x")).collect();
        let parents: Vec<Vec<String>> = (0..n)
            .map(|i| {
                if i == 0 {
                    vec![]
                } else {
                    vec![ids[i - 1].clone()]
                }
            })
            .collect();
        let msgs: Vec<ThreadMsg<'_>> = (0..n)
            .map(|i| ThreadMsg {
                sent: i as i64,
                // Empty subjects are never merged, so each chain stays a thread of its own.
                subject: "",
                reply: false,
                message_id: Some(&ids[i]),
                references: &parents[i],
            })
            .collect();
        let f = references(&msgs, Instant::now() + std::time::Duration::from_secs(600)).unwrap();
        let numbers: Vec<u32> = (1..=n as u32).collect();
        let mut line = String::new();
        write_threads(&mut line, &f, &numbers);
        // A chain is cut where proving a link loop-free would take more than MAX_WALK steps:
        // three threads of 10,001, 10,001 and 998 messages.
        assert!(line.starts_with(" (1 2 3 "));
        assert!(line.contains(" 10001)(10002 10003 "));
        assert_eq!(line.matches('(').count(), 3);
        assert_eq!(line.matches(')').count(), 3);
    }
}
