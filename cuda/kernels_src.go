package cuda

// kernelSource is the CUDA C of every hand-written kernel, compiled once per
// Device by NVRTC with --fmad=false, so that products and sums round as the
// CPU's float32 code rounds them (the optimizers then match the CPU bit
// for bit). Maps are channels-last: element i of a [rows, C] map is channel
// i % C. Per-channel sums are taken in double and added with atomics into
// accumulators that the next kernel reads and clears again.
const kernelSource = `
typedef unsigned long long u64;
extern "C" {

// ---- batch norm ----

// bn_stats adds each channel's sum and sum of squares over rows into acc[0:C], acc[C:2C].
// Block (32, 8): 32 channels by 8 rows; gridDim.y blocks share the rows.
__global__ void bn_stats(const float* __restrict__ x, int rows, int C, double* acc) {
	__shared__ double s1[8][32], s2[8][32];
	int c = blockIdx.x * 32 + threadIdx.x;
	double a = 0, b = 0;
	if (c < C) {
		for (long r = blockIdx.y * 8 + threadIdx.y; r < rows; r += gridDim.y * 8) {
			double v = x[r * C + c];
			a += v;
			b += v * v;
		}
	}
	s1[threadIdx.y][threadIdx.x] = a;
	s2[threadIdx.y][threadIdx.x] = b;
	__syncthreads();
	if (threadIdx.y == 0 && c < C) {
		for (int i = 1; i < 8; i++) { a += s1[i][threadIdx.x]; b += s2[i][threadIdx.x]; }
		atomicAdd(acc + c, a);
		atomicAdd(acc + C + c, b);
	}
}

// bn_finalize turns the sums into the mean and 1/std (training) or reads
// the running statistics (evaluation), moves the running statistics as
// PyTorch does, and sets y = x*scale + shift's coefficients. acc is cleared.
__global__ void bn_finalize(double* acc, int rows, int C, const float* w, const float* b,
		float* rmean, float* rvar, double momentum, double eps, int training,
		double* mean_out, double* invstd_out, float* scale, float* shift) {
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= C) return;
	double mean, invstd;
	if (training) {
		mean = acc[c] / rows;
		double var = acc[C + c] / rows - mean * mean;
		if (var < 0) var = 0;
		acc[c] = 0;
		acc[C + c] = 0;
		invstd = 1.0 / sqrt(var + eps);
		rmean[c] = (float)((1 - momentum) * (double)rmean[c] + momentum * mean);
		rvar[c] = (float)((1 - momentum) * (double)rvar[c] + momentum * var * ((double)rows / (rows - 1)));
	} else {
		mean = rmean[c];
		invstd = 1.0 / sqrt((double)rvar[c] + eps);
	}
	mean_out[c] = mean;
	invstd_out[c] = invstd;
	double s = (double)w[c] * invstd;
	scale[c] = (float)s;
	shift[c] = (float)((double)b[c] - mean * s);
}

// bn_apply sets y = x*scale + shift (+ res), then max(0, .) if relu; C % 4 == 0.
__global__ void bn_apply(const float4* __restrict__ x, const float4* __restrict__ res, float4* __restrict__ y,
		const float* __restrict__ scale, const float* __restrict__ shift, long n4, int C4, int relu) {
	for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n4; i += (long)gridDim.x * blockDim.x) {
		int c = (int)(i % C4) * 4;
		float4 v = x[i], o;
		o.x = v.x * scale[c] + shift[c];
		o.y = v.y * scale[c + 1] + shift[c + 1];
		o.z = v.z * scale[c + 2] + shift[c + 2];
		o.w = v.w * scale[c + 3] + shift[c + 3];
		if (res) {
			float4 r = res[i];
			o.x += r.x; o.y += r.y; o.z += r.z; o.w += r.w;
		}
		if (relu) {
			o.x = fmaxf(o.x, 0.f); o.y = fmaxf(o.y, 0.f); o.z = fmaxf(o.z, 0.f); o.w = fmaxf(o.w, 0.f);
		}
		y[i] = o;
	}
}

// bn_bwd_reduce masks dy by y > 0 if relu (writing the masked gradient to
// dres if given) and adds per channel sum(g) and sum(g*(x-mean)) into acc.
__global__ void bn_bwd_reduce(const float* __restrict__ x, const float* __restrict__ y, const float* __restrict__ dy,
		float* __restrict__ dres, const double* __restrict__ mean, int rows, int C, int relu, double* acc) {
	__shared__ double s1[8][32], s2[8][32];
	int c = blockIdx.x * 32 + threadIdx.x;
	double a = 0, b = 0;
	if (c < C) {
		double m = mean[c];
		for (long r = blockIdx.y * 8 + threadIdx.y; r < rows; r += gridDim.y * 8) {
			long i = r * C + c;
			float g = dy[i];
			if (relu && !(y[i] > 0.f)) g = 0.f;
			if (dres) dres[i] = g;
			a += g;
			b += (double)g * ((double)x[i] - m);
		}
	}
	s1[threadIdx.y][threadIdx.x] = a;
	s2[threadIdx.y][threadIdx.x] = b;
	__syncthreads();
	if (threadIdx.y == 0 && c < C) {
		for (int i = 1; i < 8; i++) { a += s1[i][threadIdx.x]; b += s2[i][threadIdx.x]; }
		atomicAdd(acc + c, a);
		atomicAdd(acc + C + c, b);
	}
}

// bn_bwd_coef adds the weight and bias gradients and sets, per channel,
// dx = a*g + b*(x - mu) + d as coef = [a | b | d | mu]. acc is cleared.
__global__ void bn_bwd_coef(double* acc, const double* mean, const double* invstd, const float* w,
		float* dw, float* db, int rows, int C, int training, float* coef) {
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= C) return;
	double sdy = acc[c], sdx = acc[C + c];
	acc[c] = 0;
	acc[C + c] = 0;
	double is = invstd[c];
	dw[c] += (float)(sdx * is);
	db[c] += (float)sdy;
	double a = (double)w[c] * is, b = 0, d = 0;
	float mu = (float)mean[c];
	if (training) {
		b = -a * is * is * sdx / rows;
		d = -a * sdy / rows - b * (mean[c] - (double)mu);
	}
	coef[c] = (float)a;
	coef[C + c] = (float)b;
	coef[2 * C + c] = (float)d;
	coef[3 * C + c] = mu;
}

// bn_bwd_dx sets dx = a*g + b*(x-mu) + d with g = dy masked by y > 0 if relu.
__global__ void bn_bwd_dx(const float* __restrict__ x, const float* __restrict__ y, const float* __restrict__ dy,
		const float* __restrict__ coef, float* __restrict__ dx, long n, int C, int relu) {
	for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
		int c = (int)(i % C);
		float g = dy[i];
		if (relu && !(y[i] > 0.f)) g = 0.f;
		dx[i] = coef[c] * g + coef[C + c] * (x[i] - coef[3 * C + c]) + coef[2 * C + c];
	}
}

// ---- pooling, dropout, linear ----

// gap_fwd sets y[n, c] to the mean of x[n, :, c] over P positions.
__global__ void gap_fwd(const float* __restrict__ x, float* __restrict__ y, int N, int P, int C) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= N * C) return;
	int n = i / C, c = i % C;
	const float* p = x + (long)n * P * C + c;
	float s = p[0];
	for (int k = 1; k < P; k++) s += p[(long)k * C];
	y[i] = s * (1.0f / P);
}

// gap_bwd spreads dy[n, c]/P over x's P positions.
__global__ void gap_bwd(const float* __restrict__ dy, float* __restrict__ dx, long n, int P, int C) {
	for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
		int c = (int)(i % C);
		long img = i / ((long)P * C);
		dx[i] = dy[img * C + c] * (1.0f / P);
	}
}

__device__ u64 mix64(u64 z) {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

// dropout_fwd keeps each element with probability 1-p, scaled by 1/(1-p),
// from a counter-based hash of (seed, i); mask holds the factor.
__global__ void dropout_fwd(const float* __restrict__ x, float* __restrict__ y, float* __restrict__ mask,
		long n, float p, float scale, u64 seed) {
	for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
		float u = (float)(mix64(seed + 0x9E3779B97F4A7C15ULL * (u64)(i + 1)) >> 40) * (1.0f / 16777216.0f);
		float m = u < p ? 0.f : scale;
		mask[i] = m;
		y[i] = x[i] * m;
	}
}

// mul sets z = x * y element-wise.
__global__ void mul(const float* __restrict__ x, const float* __restrict__ y, float* __restrict__ z, long n) {
	for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) z[i] = x[i] * y[i];
}

// add_into sets y += x element-wise.
__global__ void add_into(float* __restrict__ y, const float* __restrict__ x, long n) {
	for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) y[i] += x[i];
}

// concat_channels sets out [rows, A+B] to rows of a [rows, A] followed by
// b [rows, B]; split_channels is its inverse.
__global__ void concat_channels(float* __restrict__ out, const float* __restrict__ a, const float* __restrict__ b,
		long rows, int A, int B) {
	long n = rows * (A + B);
	for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
		long r = i / (A + B);
		int c = (int)(i - r * (A + B));
		out[i] = c < A ? a[r * A + c] : b[r * B + c - A];
	}
}

__global__ void split_channels(float* __restrict__ a, float* __restrict__ b, const float* __restrict__ in,
		long rows, int A, int B) {
	long n = rows * (A + B);
	for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
		long r = i / (A + B);
		int c = (int)(i - r * (A + B));
		if (c < A) a[r * A + c] = in[i]; else b[r * B + c - A] = in[i];
	}
}

// add_bias adds b[c] to every row of y [rows, C].
__global__ void add_bias(float* __restrict__ y, const float* __restrict__ b, long n, int C) {
	for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) y[i] += b[i % C];
}

// col_sum adds the column sums of dy [rows, C] into db.
__global__ void col_sum(const float* __restrict__ dy, float* __restrict__ db, int rows, int C) {
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= C) return;
	float s = 0;
	for (int r = 0; r < rows; r++) s += dy[(long)r * C + c];
	db[c] += s;
}

// ---- loss ----

// cross_entropy: softmax cross-entropy of logits [rows, C] against targets
// with class weights w (or none) and label smoothing eps, as nn.CrossEntropy;
// writes dL/dlogits and the mean loss to out[0]. One block of 256 threads.
__global__ void cross_entropy(const float* __restrict__ logits, const int* __restrict__ targets,
		const float* __restrict__ w, int rows, int C, float eps, float* __restrict__ grad, float* __restrict__ out) {
	__shared__ double s_nll[256], s_smooth[256], s_w[256];
	double nll = 0, smooth = 0, wsum = 0;
	for (int n = threadIdx.x; n < rows; n += blockDim.x) {
		const float* z = logits + (long)n * C;
		float m = z[0];
		for (int k = 1; k < C; k++) m = fmaxf(m, z[k]);
		double s = 0;
		for (int k = 0; k < C; k++) s += exp((double)z[k] - m);
		double lse = m + log(s);
		int y = targets[n];
		double wy = w ? w[y] : 1.0;
		wsum += wy;
		nll -= wy * ((double)z[y] - lse);
		if (eps > 0)
			for (int k = 0; k < C; k++) smooth -= (w ? w[k] : 1.0) * ((double)z[k] - lse);
	}
	s_nll[threadIdx.x] = nll;
	s_smooth[threadIdx.x] = smooth;
	s_w[threadIdx.x] = wsum;
	__syncthreads();
	for (int h = blockDim.x / 2; h > 0; h /= 2) {
		if (threadIdx.x < h) {
			s_nll[threadIdx.x] += s_nll[threadIdx.x + h];
			s_smooth[threadIdx.x] += s_smooth[threadIdx.x + h];
			s_w[threadIdx.x] += s_w[threadIdx.x + h];
		}
		__syncthreads();
	}
	double W = s_w[0];
	double e = eps;
	if (threadIdx.x == 0) out[0] = (float)(((1 - e) * s_nll[0] + e / C * s_smooth[0]) / W);
	double wtotal = 0;
	for (int k = 0; k < C; k++) wtotal += w ? w[k] : 1.0;
	double hard = (1 - e) / W, soft = e / (C * W);
	for (int n = threadIdx.x; n < rows; n += blockDim.x) {
		const float* z = logits + (long)n * C;
		float m = z[0];
		for (int k = 1; k < C; k++) m = fmaxf(m, z[k]);
		double s = 0;
		for (int k = 0; k < C; k++) s += exp((double)z[k] - m);
		double lse = m + log(s);
		int y = targets[n];
		double a = hard * (w ? w[y] : 1.0);
		for (int k = 0; k < C; k++) {
			double p = exp((double)z[k] - lse);
			double d = a * p + soft * (wtotal * p - (w ? w[k] : 1.0));
			if (k == y) d -= a;
			grad[(long)n * C + k] = (float)d;
		}
	}
}

// ---- optimizers (the float32 operations of package optim, in order) ----

__global__ void adam(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ m, float* __restrict__ v,
		long n, float wd, float decayMul, float w1, float omw1, int big, float b2, float omb2, float bc2sqrt,
		float eps, float negStep) {
	for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
		float gi = g[i], wi = w[i];
		if (wd != 0.f) gi += wd * wi;
		wi *= decayMul;
		float mi = big ? gi - (gi - m[i]) * omw1 : m[i] + w1 * (gi - m[i]);
		float vi = v[i] * b2 + (omb2 * gi) * gi;
		m[i] = mi;
		v[i] = vi;
		float d = sqrtf(vi) / bc2sqrt + eps;
		w[i] = wi + (negStep * mi) / d;
	}
}

__global__ void sgd(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ b, long n,
		float wd, float mom, float damp1, float negLR, int first, int nesterov) {
	for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
		float gi = g[i];
		if (wd != 0.f) gi += wd * w[i];
		if (b) {
			float bi = first ? gi : b[i] * mom + damp1 * gi;
			b[i] = bi;
			gi = nesterov ? gi + mom * bi : bi;
		}
		w[i] += negLR * gi;
	}
}

// sum_squares adds the sum of x[i]^2 into out[0] (double).
__global__ void sum_squares(const float* __restrict__ x, long n, double* out) {
	__shared__ double s[256];
	double a = 0;
	for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) a += (double)x[i] * x[i];
	s[threadIdx.x] = a;
	__syncthreads();
	for (int h = blockDim.x / 2; h > 0; h /= 2) {
		if (threadIdx.x < h) s[threadIdx.x] += s[threadIdx.x + h];
		__syncthreads();
	}
	if (threadIdx.x == 0) atomicAdd(out, s[0]);
}

// scale multiplies x by a.
__global__ void scale(float* __restrict__ x, long n, float a) {
	for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) x[i] *= a;
}

}
`
