//! Embeds every `signatures/*.toml` file into the binary (the built-in signature set).

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=signatures");
    let dir = Path::new("signatures");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".toml"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut code = String::from("/// The built-in signature files: (file name, contents).\npub const BUILTIN: &[(&str, &str)] = &[\n");
    for name in &names {
        println!("cargo:rerun-if-changed=signatures/{name}");
        let _ = writeln!(
            code,
            "    ({name:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/signatures/{name}\"))),"
        );
    }
    code.push_str("];\n");
    let out = std::env::var("OUT_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    if let Err(e) = std::fs::write(out.join("builtin_signatures.rs"), code) {
        println!("cargo:warning=cannot write the signature list: {e}");
        std::process::exit(1);
    }
}
