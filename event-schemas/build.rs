//! Embeds every `schemas/<context>/<EventType>.v<N>.avsc` file, so adding a schema is adding a
//! file.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut entries = Vec::new();
    for context in std::fs::read_dir(&root).expect("schemas/ exists") {
        let context = context.expect("readable schemas/ entry").path();
        if !context.is_dir() {
            continue;
        }
        println!("cargo:rerun-if-changed={}", context.display());
        for file in std::fs::read_dir(&context).expect("readable context directory") {
            let path = file.expect("readable schema entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("avsc") {
                continue;
            }
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("UTF-8 file name");
            let (event_type, version) = stem
                .rsplit_once(".v")
                .unwrap_or_else(|| panic!("{}: expected <EventType>.v<N>.avsc", path.display()));
            let version: u32 = version
                .parse()
                .unwrap_or_else(|_| panic!("{}: version is not a number", path.display()));
            let context_name = context.file_name().and_then(|s| s.to_str()).expect("UTF-8");
            entries.push((
                context_name.to_owned(),
                event_type.to_owned(),
                version,
                path.display().to_string(),
            ));
        }
    }
    entries.sort();
    let mut out = String::from("pub(crate) static SCHEMA_FILES: &[SchemaFile] = &[\n");
    for (context, event_type, version, path) in entries {
        let relative = path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(&path)
            .trim_start_matches('/');
        writeln!(
            out,
            "    SchemaFile {{ context: {context:?}, event_type: {event_type:?}, version: {version}, \
             path: {relative:?}, json: include_str!({path:?}) }},"
        )
        .expect("write to string");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("schema_files.rs");
    std::fs::write(dest, out).expect("write schema_files.rs");
}
