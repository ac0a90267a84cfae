//! Compiling the kernels with NVRTC at run time.
//!
//! The source is compiled to a **CUBIN** for the device's real architecture (`sm_XY`) first:
//! a CUBIN loads without the driver's PTX JIT, so an NVRTC newer than the driver still works
//! (CUDA minor-version compatibility; a PTX from a newer NVRTC fails to load with
//! `CUDA_ERROR_UNSUPPORTED_PTX_VERSION`). When that fails (an NVRTC that does not know the
//! architecture), the fallbacks are PTX for `compute_XY`, then PTX for NVRTC's default virtual
//! architecture, both JIT-compiled by the driver. Every attempt uses `--fmad=false
//! --ftz=false --prec-div=true --prec-sqrt=true`, which the bit-for-bit parity with the CPU
//! relies on (see [`kernels`](super::kernels)).

use std::ffi::CString;

use cudarc::nvrtc::{CompileError, CompileOptions, Ptx, compile_ptx_with_opts, result, sys};

/// The compiler options every attempt uses, plus `--gpu-architecture=arch`.
pub(crate) fn options(arch: Option<&str>) -> Vec<String> {
    let mut o: Vec<String> = [
        "--fmad=false",
        "--ftz=false",
        "--prec-div=true",
        "--prec-sqrt=true",
    ]
    .map(String::from)
    .into();
    if let Some(a) = arch {
        o.push(format!("--gpu-architecture={a}"));
    }
    o
}

/// What to compile to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A CUBIN for `sm_XY`.
    Cubin(String),
    /// PTX for a virtual architecture (`compute_XY`), or NVRTC's default.
    Ptx(Option<String>),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Cubin(arch) => write!(f, "CUBIN {arch}"),
            Target::Ptx(Some(arch)) => write!(f, "PTX {arch}"),
            Target::Ptx(None) => f.write_str("PTX (NVRTC's default architecture)"),
        }
    }
}

/// The attempts for compute capability `(major, minor)`, best first.
pub(crate) fn targets(cc: (i32, i32)) -> [Target; 3] {
    let (major, minor) = cc;
    [
        Target::Cubin(format!("sm_{major}{minor}")),
        Target::Ptx(Some(format!("compute_{major}{minor}"))),
        Target::Ptx(None),
    ]
}

/// Compile `src` for `target`.
pub(crate) fn compile(src: &str, target: &Target) -> Result<Ptx, String> {
    match target {
        Target::Cubin(arch) => cubin(src, arch).map(Ptx::from_binary),
        Target::Ptx(arch) => compile_ptx_with_opts(
            src,
            CompileOptions {
                options: options(arch.as_deref()),
                name: Some("hsi_calibrate.cu".into()),
                ..Default::default()
            },
        )
        .map_err(|e| describe(&e)),
    }
}

/// Destroys an NVRTC program when dropped.
struct Program(sys::nvrtcProgram);

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: the program was created by `create_program` and is destroyed only here.
        let _ = unsafe { result::destroy_program(self.0) };
    }
}

/// A CUBIN for the real architecture `arch` (`sm_XY`).
fn cubin(src: &str, arch: &str) -> Result<Vec<u8>, String> {
    let src = CString::new(src).map_err(|e| format!("kernel source: {e}"))?;
    let name = c"hsi_calibrate.cu";
    let prog = Program(
        result::create_program(&src, Some(name)).map_err(|e| format!("nvrtcCreateProgram: {e}"))?,
    );
    let opts = options(Some(arch));
    // SAFETY: `prog.0` is a live program (destroyed when `prog` drops, after this function's
    // last use of it), and `src`/`name`, which it may reference, outlive it.
    if let Err(e) = unsafe { result::compile_program(prog.0, &opts) } {
        // SAFETY: as above.
        let log = unsafe { result::get_program_log(prog.0) }
            .map(|chars| {
                let bytes: Vec<u8> = chars.iter().map(|&c| c as u8).collect();
                String::from_utf8_lossy(&bytes)
                    .trim_end_matches('\0')
                    .trim()
                    .to_owned()
            })
            .unwrap_or_default();
        return Err(format!("nvrtcCompileProgram for {arch}: {e}: {log}"));
    }
    let mut size = 0usize;
    // SAFETY: live program; `size` is a valid out-pointer.
    unsafe { sys::nvrtcGetCUBINSize(prog.0, &mut size) }
        .result()
        .map_err(|e| format!("nvrtcGetCUBINSize: {e}"))?;
    let mut image = vec![0u8; size];
    // SAFETY: live program; `image` has the `size` bytes NVRTC reported for the CUBIN.
    unsafe { sys::nvrtcGetCUBIN(prog.0, image.as_mut_ptr().cast()) }
        .result()
        .map_err(|e| format!("nvrtcGetCUBIN: {e}"))?;
    if image.is_empty() {
        return Err(format!("NVRTC produced no CUBIN for {arch}"));
    }
    Ok(image)
}

/// NVRTC's error with its compile log, readable.
fn describe(e: &CompileError) -> String {
    match e {
        CompileError::CompileError { nvrtc, log, .. } => {
            format!("{nvrtc}: {}", log.to_string_lossy().trim())
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::kernels::SOURCE;
    use super::*;

    /// Runs wherever libnvrtc can be loaded (a CUDA toolkit without a GPU is enough).
    #[test]
    fn kernels_compile_for_jetson_and_datacentre_gpus() {
        // SAFETY: dlopen/dlclose of NVIDIA's NVRTC, whose initialisers have no preconditions.
        if !unsafe { sys::is_culib_present() } {
            println!("SKIPPED: libnvrtc cannot be loaded");
            return;
        }
        for cc in [(7, 2), (8, 0), (8, 7), (9, 0)] {
            for target in targets(cc) {
                match &target {
                    Target::Cubin(arch) => {
                        let image = cubin(SOURCE, arch).unwrap_or_else(|e| panic!("{target}: {e}"));
                        assert!(
                            image.starts_with(b"\x7fELF"),
                            "{target} is not an ELF image"
                        );
                    }
                    Target::Ptx(_) => {
                        let ptx =
                            compile(SOURCE, &target).unwrap_or_else(|e| panic!("{target}: {e}"));
                        let text = ptx.to_src();
                        for entry in ["calibrate_u16", "calibrate_f32", "bin_mean", "mask_nodata"] {
                            assert!(text.contains(&format!(".entry {entry}(")), "{entry}");
                        }
                        // Two roundings, as on the CPU: no contraction into FMA.
                        assert!(text.contains("mul.rn.f32") && text.contains("add.rn.f32"));
                        assert!(!text.contains("fma.rn.f32"), "{target} contracted to FMA");
                        assert!(text.contains("div.rn.f32"));
                    }
                }
            }
        }
        let bad = compile("this is not CUDA", &Target::Cubin("sm_90".into()))
            .expect_err("a syntax error is reported");
        assert!(bad.contains("nvrtcCompileProgram"), "{bad}");
    }
}
