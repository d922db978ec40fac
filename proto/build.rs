//! Compiles the `.proto` files with protox (pure Rust, no `protoc` needed) and tonic-prost-build.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/shopcore/common/v1/command.proto",
        "proto/shopcore/customer/v1/customer.proto",
        "proto/shopcore/catalog/v1/catalog.proto",
        "proto/shopcore/pricing/v1/pricing.proto",
        "proto/shopcore/pricing/v1/pricing_queries.proto",
        "proto/shopcore/cart/v1/cart.proto",
    ];
    for file in &files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out_dir.join("shopcore_descriptor.bin");
    std::fs::write(
        &descriptor_path,
        prost::Message::encode_to_vec(&descriptors),
    )?;
    // Maps as BTreeMap: a message then always encodes to the same bytes, which the
    // idempotency fingerprint (a hash of the encoded request) relies on.
    tonic_prost_build::configure()
        .btree_map(".")
        .compile_fds(descriptors)?;
    Ok(())
}
