use super::*;

fn write(text: &str) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(f.path(), text).expect("write");
    f
}

#[test]
fn foreign_and_malformed_files_get_clear_errors() {
    for (text, needle) in [
        ("not json", "not JSON"),
        ("{\"a\": 1}", "no \"schema\" field"),
        ("{\"schema\": \"other/2\"}", "has schema \"other/2\""),
        (
            "{\"schema\": \"clprof/1\", \"lines\": 3}",
            "not a clprof profile",
        ),
    ] {
        let f = write(text);
        let err = load(f.path()).expect_err(text).to_string();
        assert!(err.contains(needle), "{text}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let err = load(Path::new("/nonexistent/x.json"))
        .expect_err("missing")
        .to_string();
    assert!(err.contains("cannot read /nonexistent/x.json"), "{err}");
}
