//! Rules over the model registry that every caller follows the same way, written once over
//! `RegistryPort`: where a model version's image is recorded. No I/O of its own beyond the port.

pub use crate::model::IMAGE_TAG;
use crate::{error::CoreError, ports::RegistryPort};

/// What a missing image tag is called in `CoreError::NotFound`.
pub const IMAGE_TAG_KIND: &str = "image tag of model version";

/// The image the registry records for `model` v`version` (its `image` tag). A version that does
/// not exist is `NotFound` "model version"; one without the tag is `NotFound`
/// [`IMAGE_TAG_KIND`].
pub async fn version_image(
    registry: &dyn RegistryPort,
    model: &str,
    version: u32,
) -> Result<String, CoreError> {
    let m = registry.model(model).await?;
    m.require_version(version)?
        .image()
        .map(str::to_string)
        .ok_or_else(|| CoreError::NotFound {
            kind: IMAGE_TAG_KIND,
            name: format!("{model} v{version}"),
        })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::demo::DemoPlatform;

    /// The demo answers at once: poll a call to it once.
    fn now<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the demo answers at once"),
        }
    }

    #[test]
    fn a_versions_image_is_its_image_tag() {
        let demo = DemoPlatform::manual(7, Utc::now());
        let models = now(demo.models()).expect("models");
        let (m, v) = models
            .iter()
            .find_map(|m| {
                m.versions
                    .iter()
                    .find(|v| v.image().is_some())
                    .map(|v| (m, v))
            })
            .expect("a version with an image");
        let image = now(version_image(&demo, &m.name, v.version));
        assert_eq!(image.as_deref().ok(), v.image());
        // A version that does not exist, and one without the tag, say which.
        let missing = now(version_image(&demo, &m.name, 9999));
        assert!(
            matches!(
                &missing,
                Err(CoreError::NotFound {
                    kind: "model version",
                    ..
                })
            ),
            "{missing:?}"
        );
        let mut untagged = m.clone();
        untagged.versions[0].tags.remove(IMAGE_TAG);
        let version = untagged.versions[0].version;
        let e = untagged
            .require_version(version)
            .map(|v| v.image().is_none());
        assert_eq!(e, Ok(true));
    }
}
