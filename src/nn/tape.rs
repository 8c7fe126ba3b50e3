//! The dfdx side of the crate's CPU layers: reading tensors into buffers, recording backward
//! passes on the tape, and borrowing two gradients at once (the crate's one `unsafe` use of
//! dfdx's gradients).
//!
//! The activation layers, [`MaxPool2D`](super::pool::MaxPool2D), [`Conv2D`](super::conv::Conv2D)
//! and [`ConvPool2D`](super::conv_pool::ConvPool2D) run their kernels on plain slices; this
//! module is what connects those kernels to dfdx tensors and gradients.

use dfdx::shapes::{Const, Dim, Dtype, HasShape, Rank1, Rank4, Shape, Unit};
use dfdx::tensor::{Cpu, CpuError, Gradients, PutTape, SplitTape, Tape, Tensor, TensorFromVec};
use dfdx::tensor_ops::ReshapeTo;

use super::dims::ConvDims;
use crate::activation::Float;

/// Two gradient buffers at once: `read`'s to read and `write`'s to write, each fetched (and
/// allocated if missing) by its closure, e.g. `|g| Ok(&mut g.get_or_alloc_mut(&ghost)?[..])`.
/// What a backward op needs to turn its output's gradient into its input's without copying
/// the output's.
///
/// # Panics
///
/// If both closures give the same buffer (the same tensor twice), as dfdx's own borrows of
/// two gradients assert that the tensors' ids differ. dfdx 0.13 keeps the ids private, so the
/// check is made on what an id selects: every id has its own buffer, and the buffers of two
/// different ids never overlap (the only check that matters for the borrows).
pub(crate) fn read_and_write<E: Unit>(
    grads: &mut Gradients<E, Cpu>,
    read: impl FnOnce(&mut Gradients<E, Cpu>) -> Result<&mut [E], CpuError>,
    write: impl FnOnce(&mut Gradients<E, Cpu>) -> Result<&mut [E], CpuError>,
) -> Result<(&[E], &mut [E]), CpuError> {
    let read_buffer = read(grads)?;
    let (read_ptr, read_len) = (read_buffer.as_ptr(), read_buffer.len());
    let write_buffer = write(grads)?;
    let write_range = write_buffer.as_ptr_range();
    let disjoint = read_len == 0
        || write_buffer.is_empty()
        || read_ptr.wrapping_add(read_len) <= write_range.start
        || write_range.end <= read_ptr;
    assert!(
        disjoint,
        "one gradient borrowed to read and to write at once"
    );
    // SAFETY: `read_ptr` points at `read_len` initialised elements of the heap buffer of one
    // entry of `grads`. Fetching the other entry may insert it, which moves map nodes but no
    // entry's heap buffer, and removes nothing, so the pointer stays valid. The two buffers
    // do not overlap (asserted above), so the shared slice never aliases the unique one, and
    // both borrow `grads` for as long as they live: no entry is removed, moved or borrowed again while they
    // live.
    let read_slice = unsafe { std::slice::from_raw_parts(read_ptr, read_len) };
    Ok((read_slice, write_buffer))
}

/// `&mut grads.get_or_alloc_mut(tensor)?[..]`, as a closure for [`read_and_write`].
macro_rules! grad_of {
    ($tensor:expr) => {
        |g| Ok(&mut g.get_or_alloc_mut($tensor)?[..])
    };
}
pub(crate) use grad_of;

/// The forward pass of a convolution-like layer on one image `(IN, H, W)`: `batched` on it as
/// a batch of one, the batch dimension removed again.
pub(crate) fn forward_one_image<const IN: usize, const OUT: usize, H, W, E, T>(
    x: Tensor<(Const<IN>, H, W), E, Cpu, T>,
    batched: impl FnOnce(
        Tensor<(Const<1>, Const<IN>, H, W), E, Cpu, T>,
    ) -> Result<BatchedOut<Const<1>, OUT, E, T>, CpuError>,
) -> Result<ImageOut<OUT, E, T>, CpuError>
where
    H: Dim,
    W: Dim,
    E: Dtype,
    T: Tape<E, Cpu>,
{
    let (_, h, w) = *x.shape();
    let y = batched(x.try_reshape_like(&(Const::<1>, Const::<IN>, h, w))?)?;
    let (_, _, ho, wo) = *y.shape();
    y.try_reshape_like(&(Const::<OUT>, ho, wo))
}

/// What the forward pass of a convolution-like op gives [`record_conv_op`]: the output
/// (`batch x OUT x h x w`) and what its backward pass needs besides the input and weights.
pub(crate) struct ConvOpOutput<E, S> {
    pub(crate) data: Vec<E>,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) saved: S,
}

/// The dfdx side of an op that convolves `x` with `weight` and `bias` (stride 1, no
/// padding): checks the sizes, copies the data out of the tensors, runs `forward` on it, and
/// records `backward` on the tape. `backward` gets the gradient of the output and adds into
/// the gradients of the weight and bias (zeroed buffers of their sizes) and, if
/// `INPUT_GRAD`, of the input (dfdx's gradient buffer, possibly holding earlier sums).
#[allow(clippy::type_complexity)]
pub(crate) fn record_conv_op<
    const K: usize,
    const INPUT_GRAD: bool,
    const IN: usize,
    const OUT: usize,
    B: Dim,
    H: Dim,
    W: Dim,
    E: Dtype + Float,
    T: Tape<E, Cpu>,
    S: 'static,
>(
    x: Tensor<(B, Const<IN>, H, W), E, Cpu, T>,
    weight: &Tensor<Rank4<OUT, IN, K, K>, E, Cpu>,
    bias: &Tensor<Rank1<OUT>, E, Cpu>,
    forward: impl FnOnce(&ConvDims, &[E], &[E], &[E]) -> Result<ConvOpOutput<E, S>, CpuError>,
    backward: impl FnOnce(&ConvDims, S, &[E], &[E], &[E], Option<&mut [E]>, &mut [E], &mut [E])
        + 'static,
) -> Result<BatchedOut<B, OUT, E, T>, CpuError> {
    let (b, _, h, w) = *x.shape();
    let dims = ConvDims::new(b.size(), IN, OUT, K, h.size(), w.size())
        .ok_or(CpuError::WrongNumElements)?;

    // Gradient buffers follow the storage layout of a tensor, so every tensor whose gradient
    // we write is made contiguous first. If a copy is needed, dfdx records it on the tape and
    // routes the gradient back to the original (strided) tensor.
    let x = x.try_contiguous()?;
    let (x, tape) = x.split_tape();
    let weight = weight.retaped::<T>().try_contiguous()?;
    let (weight, w_tape) = weight.split_tape();
    let bias = bias.retaped::<T>().try_contiguous()?;
    let (bias, b_tape) = bias.split_tape();
    let mut tape = tape.merge(w_tape).merge(b_tape);

    // dfdx 0.13 gives no public view of a Cpu tensor's data (`Tensorlike` is crate-private),
    // so the kernels work on copies.
    let x_data = read_contiguous(&x);
    let w_data = read_contiguous(&weight);
    let b_data = read_contiguous(&bias);

    let output = forward(&dims, &x_data, &w_data, &b_data)?;
    let out_len = output.data.len();
    if out_len != dims.batch * OUT * output.h * output.w {
        return Err(CpuError::WrongNumElements);
    }
    let out = x
        .device()
        .try_tensor_from_vec(output.data, (b, Const::<OUT>, output.h, output.w))?;

    if T::OWNS_TAPE {
        let saved = output.saved;
        let x_ghost = x.ghost();
        let w_ghost = weight.ghost();
        let b_ghost = bias.ghost();
        let out_ghost = out.ghost();
        drop(x);
        tape.add_backward_op(move |grads| {
            let (grad_out, grad_x) = if INPUT_GRAD {
                let (grad_out, grad_x) =
                    read_and_write(grads, grad_of!(&out_ghost), grad_of!(&x_ghost))?;
                if grad_x.len() < dims.in_len() {
                    return Err(CpuError::WrongNumElements);
                }
                (grad_out, Some(&mut grad_x[..dims.in_len()]))
            } else {
                let grad_out: &[E] = &grads.get_or_alloc_mut(&out_ghost)?[..];
                (grad_out, None)
            };
            if grad_out.len() < out_len {
                return Err(CpuError::WrongNumElements);
            }
            let grad_out = &grad_out[..out_len];
            let mut grad_w = vec![E::zero(); dims.weight_len()];
            let mut grad_b = vec![E::zero(); dims.c_out];
            backward(
                &dims,
                saved,
                &x_data,
                &w_data,
                grad_out,
                grad_x,
                &mut grad_w,
                &mut grad_b,
            );
            // Added one at a time through fresh borrows, so this is also correct if the
            // weight/bias share an id with the input.
            add_into(grads.get_or_alloc_mut(&w_ghost)?, &grad_w)?;
            add_into(grads.get_or_alloc_mut(&b_ghost)?, &grad_b)?;
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// The elements of a contiguous Cpu tensor (as `try_contiguous` returns) in row-major order.
///
/// `Tensor::copy_into` is a plain copy of the storage, several times faster than `as_vec`'s
/// element-by-element strided walk; for a contiguous tensor the two give the same elements.
pub(crate) fn read_contiguous<S: Shape, E: Unit, T>(t: &Tensor<S, E, Cpu, T>) -> Vec<E> {
    let mut data = vec![E::default(); t.shape().num_elements()];
    if !data.is_empty() {
        t.copy_into(&mut data);
    }
    data
}

/// Output of a forward pass on one image: `(Const<C>, usize, usize)` on the Cpu.
pub(crate) type ImageOut<const C: usize, E, T> = Tensor<(Const<C>, usize, usize), E, Cpu, T>;

/// Output of a batched forward: `(B, Const<C>, usize, usize)` on the Cpu.
pub(crate) type BatchedOut<B, const C: usize, E, T> =
    Tensor<(B, Const<C>, usize, usize), E, Cpu, T>;

/// `dst[..src.len()] += src`.
fn add_into<E: Float>(dst: &mut [E], src: &[E]) -> Result<(), CpuError> {
    if dst.len() < src.len() {
        return Err(CpuError::WrongNumElements);
    }
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = *d + s;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::tensor::TensorFrom;

    #[test]
    fn read_and_write_borrows_two_gradients() {
        let dev = Cpu::default();
        let (a, b) = (dev.tensor([1.0f32, 2.0, 3.0]), dev.tensor([4.0f32, 5.0]));
        let mut grads = Gradients::leaky();
        grads.get_or_alloc_mut(&a).expect("a gradient")[1] = 7.0;
        let (read, write) =
            read_and_write(&mut grads, grad_of!(&a), grad_of!(&b)).expect("two gradients");
        assert_eq!(read, [0.0, 7.0, 0.0]);
        write[0] = read[1] + 1.0;
        assert_eq!(grads.get(&b).as_vec(), [8.0, 0.0]);
    }

    #[test]
    #[should_panic(expected = "one gradient borrowed to read and to write at once")]
    fn read_and_write_refuses_one_tensor_twice() {
        let dev = Cpu::default();
        let a = dev.tensor([1.0f32, 2.0]);
        let mut grads = Gradients::leaky();
        let _ = read_and_write(&mut grads, grad_of!(&a), grad_of!(&a));
    }
}
