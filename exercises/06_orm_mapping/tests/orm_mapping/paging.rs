//! Keyset paging: every user once, in name then id order, stable while users come and go, sizes 1 to 100.

use super::*;

#[tokio::test]
async fn paging_visits_every_user_once_in_name_then_id_order() {
    // Many users share a name, inserted interleaved so ids do not follow names.
    let names = [
        "bob", "ann", "dee", "bob", "ann", "bob", "cy", "ann", "dee", "bob",
    ];
    let emails: Vec<String> = (0..23).map(|i| format!("u{i:02}@example.com")).collect();
    let rows: Vec<(&str, &str)> = emails
        .iter()
        .enumerate()
        .map(|(i, e)| (e.as_str(), names[(i * 7) % names.len()]))
        .collect();
    let (db, repo) = seeded(&rows).await;
    let expected = ids_by_name_then_id(&db).await;
    for size in [1, 2, 3, 4, 5, 7, 22, 23, MAX_PAGE_SIZE] {
        let seen = ids(&every_page(&repo, size).await);
        assert_eq!(
            seen, expected,
            "following `next` with page size {size} must return all 23 users once each, \
             ordered by (name, id); users sharing a name at a page boundary must not be skipped"
        );
    }
}

#[tokio::test]
async fn next_is_none_exactly_on_the_last_page() {
    let (db, repo) = seeded(&[]).await;
    let empty = page(&repo, None, 10).await;
    assert_eq!(
        (empty.users.len(), &empty.next),
        (0, &None),
        "an empty table is one empty page with no next"
    );
    drop(db);
    let rows: Vec<(String, &str)> = (0..6)
        .map(|i| (format!("u{i}@example.com"), "same"))
        .collect();
    let rows: Vec<(&str, &str)> = rows.iter().map(|(e, n)| (e.as_str(), *n)).collect();
    let (_db, repo) = seeded(&rows).await;
    for (size, expected_lengths) in [
        (3, vec![3, 3]),
        (6, vec![6]),
        (5, vec![5, 1]),
        (4, vec![4, 2]),
    ] {
        let mut lengths = Vec::new();
        let mut current = page(&repo, None, size).await;
        loop {
            lengths.push(current.users.len());
            if current.next.is_none() || lengths.len() > 6 {
                break;
            }
            current = page(&repo, Some(&current), size).await;
        }
        assert_eq!(
            lengths, expected_lengths,
            "6 users in pages of {size}: the page lengths (next must be None on the page holding \
             the last user, and Some on every page before it)"
        );
    }
}

#[tokio::test]
async fn users_inserted_or_deleted_between_pages_cause_no_repeats() {
    let emails: Vec<String> = (1..=10).map(|i| format!("m{i:02}@example.com")).collect();
    let rows: Vec<(&str, &str)> = emails.iter().map(|e| (e.as_str(), &e[..3])).collect();
    let (db, repo) = seeded(&rows).await;
    let mut seen = Vec::new();
    let first = page(&repo, None, 4).await;
    seen.extend(first.users.iter().cloned());
    // Between two requests, other users sign up: one sorting before this page, one after; and
    // the user the first page ended on (the cursor's own row) is deleted.
    repo.create("a-early@example.com", "a-early")
        .await
        .expect("creating a-early");
    let late = repo
        .create("z-late@example.com", "z-late")
        .await
        .expect("creating z-late");
    sqlx::query("DELETE FROM users WHERE name = 'm04'")
        .execute(&mut db.admin().await)
        .await
        .expect("deleting m04, the last user of page 1");
    let second = page(&repo, Some(&first), 4).await;
    let second_names: Vec<&str> = second.users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        second_names,
        ["m05", "m06", "m07", "m08"],
        "page 2 must start right after m04, the user page 1 ended on, even though m04 was deleted \
         in between: the cursor holds the position (name, id), not a row to look up"
    );
    seen.extend(second.users.iter().cloned());
    // ... and two users already shown are deleted.
    sqlx::query("DELETE FROM users WHERE name IN ('m01', 'm02')")
        .execute(&mut db.admin().await)
        .await
        .expect("deleting m01 and m02");
    let mut current = second;
    for _ in 0..20 {
        if current.next.is_none() {
            break;
        }
        current = page(&repo, Some(&current), 4).await;
        seen.extend(current.users.iter().cloned());
    }
    let names: Vec<&str> = seen.iter().map(|u| u.name.as_str()).collect();
    let unique: HashSet<i64> = ids(&seen).into_iter().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "no user may appear twice across pages, but the pages held {names:?}"
    );
    for i in 1..=10 {
        let name = format!("m{i:02}");
        assert!(
            names.contains(&name.as_str()),
            "{name} was never shown: the pages held {names:?}"
        );
    }
    assert!(
        seen.contains(&late),
        "z-late, created after page 1 and sorting after it, must appear: the pages held {names:?}"
    );
}

#[tokio::test]
async fn a_page_size_outside_1_to_100_is_rejected() {
    let (_db, repo) = seeded(&[("ann@example.com", "Ann"), ("bob@example.com", "Bob")]).await;
    let first = page(&repo, None, 1).await;
    let cursor = first
        .next
        .as_ref()
        .expect("2 users in pages of 1: the first page must have a next cursor");
    for size in [0, -1, MAX_PAGE_SIZE + 1, 1_000_000, i64::MAX, i64::MIN] {
        for (position, after) in [
            ("the first page", None),
            ("a page after a cursor", Some(cursor)),
        ] {
            let result = repo.list(after, size).await;
            assert!(
                matches!(result, Err(RepoError::InvalidPageSize(s)) if s == size),
                "page size {size} for {position}: expected Err(InvalidPageSize({size})), got {result:?}"
            );
        }
    }
    for (size, users) in [(1, 1), (2, 2), (MAX_PAGE_SIZE, 2)] {
        let result = repo.list(None, size).await;
        assert!(
            matches!(&result, Ok(p) if p.users.len() == users),
            "page size {size} is allowed and must return {users} of the 2 users, got {result:?}"
        );
    }
    let result = repo.list(Some(cursor), MAX_PAGE_SIZE).await;
    assert!(
        matches!(&result, Ok(p) if p.users.len() == 1),
        "page size {MAX_PAGE_SIZE} after a cursor is allowed and must return the last user, got {result:?}"
    );
}
