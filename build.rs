//! Compiles the lwIP shim when the `lwip` feature is on.
//!
//! - Linux host: finds lwIP with pkg-config (Debian's `liblwip-dev`) and
//!   builds the shim with the host-test helpers.
//! - ESP-IDF (`target_os = "espidf"`): nothing here; the firmware compiles
//!   `src/adapter/lwip/shim.c` in its own build (see the README).
//! - Any other target: set `SANSWS_LWIP_INCLUDE` to the include directories
//!   (lwipopts.h, arch/, lwip/), separated by the platform's path separator.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/adapter/lwip/shim.c");
    println!("cargo:rerun-if-env-changed=SANSWS_LWIP_INCLUDE");
    if std::env::var_os("CARGO_FEATURE_LWIP").is_none() {
        return;
    }
    build_shim();
}

#[cfg(not(feature = "lwip"))]
fn build_shim() {}

#[cfg(feature = "lwip")]
fn build_shim() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "espidf" {
        println!(
            "cargo:warning=sansws lwip: compile src/adapter/lwip/shim.c in your ESP-IDF component"
        );
        return;
    }
    let mut build = cc::Build::new();
    build.file("src/adapter/lwip/shim.c").warnings(true);
    if let Some(dirs) = std::env::var_os("SANSWS_LWIP_INCLUDE") {
        for dir in std::env::split_paths(&dirs) {
            build.include(dir);
        }
    } else {
        let lib = pkg_config::Config::new()
            .probe("lwip")
            .expect("sansws lwip: pkg-config found no lwip (apt-get install liblwip-dev), or set SANSWS_LWIP_INCLUDE");
        for dir in &lib.include_paths {
            build.include(dir);
        }
        build.define("SANSWS_LWIP_HOST", None);
        println!("cargo:rustc-link-lib=pthread");
        println!("cargo:rustc-cfg=sansws_lwip_host");
    }
    build.compile("sansws_lwip_shim");
}
