// dlbench's bridge to dlib's DNN toolkit, which is C++ templates only (the `dlib`
// Python package binds none of it).
//
// Each scenario is a class: its constructor copies the NumPy inputs into dlib tensors
// (outside the timed region), run() computes entirely in C++ with the GIL released,
// and outputs() copies results back to NumPy. One translation unit: dlib's templates
// are instantiated once.
#include <dlib/dnn.h>
#include <dlib/revision.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <dlfcn.h>
#ifdef DLIB_USE_CUDA
#include <cuda_runtime.h>
#endif

#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace py = pybind11;
using namespace dlib;

using farray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using Shape = std::vector<py::ssize_t>;

namespace {

// --- copying across the boundary ------------------------------------------------------

void fill(tensor& t, const farray& a, const char* what)
{
    if (static_cast<size_t>(a.size()) != t.size())
        throw std::invalid_argument(std::string(what) + ": " + std::to_string(a.size()) + " values for a tensor of " +
                                    std::to_string(t.size()));
    std::memcpy(t.host(), a.data(), t.size() * sizeof(float));
}

resizable_tensor make_tensor(const farray& a, long n, long k, long nr, long nc, const char* what)
{
    resizable_tensor t(n, k, nr, nc);
    fill(t, a, what);
    return t;
}

farray to_numpy(const float* data, Shape shape)
{
    farray out(shape);
    std::memcpy(out.mutable_data(), data, out.size() * sizeof(float));
    return out;
}

farray to_numpy(const tensor& t, Shape shape) { return to_numpy(t.host(), std::move(shape)); }

// A layer's parameters in dlib are one block: the weights, then the biases. For con_ the
// weights are OIHW, for cont_ (in, out, kh, kw), for fc_ an (in, out) matrix whose bias
// row comes last: every one the scenario's layout, so loading is two copies.
template <typename Details>
void load_params(Details& details, const farray& w, const farray& b, const char* what)
{
    tensor& p = details.get_layer_params();
    if (p.size() != static_cast<size_t>(w.size() + b.size()))
        throw std::invalid_argument(std::string(what) + ": dlib's layer holds " + std::to_string(p.size()) +
                                    " parameters, the scenario gives " + std::to_string(w.size() + b.size()));
    std::memcpy(p.host(), w.data(), w.size() * sizeof(float));
    std::memcpy(p.host() + w.size(), b.data(), b.size() * sizeof(float));
}

template <typename Details>
void save_params(const Details& details, const Shape& w_shape, std::vector<farray>& out)
{
    const tensor& p = details.get_layer_params();
    farray w(w_shape);
    const size_t nw = w.size();
    std::memcpy(w.mutable_data(), p.host(), nw * sizeof(float));
    out.push_back(w);
    out.push_back(to_numpy(p.host() + nw, Shape{static_cast<py::ssize_t>(p.size() - nw)}));
}

// A training step's initial weights: a copy of each layer's parameter block after loading,
// copied back into the same block by reset(), so the timed steps start where the
// validated one did. The SGD solvers keep their state: with no momentum and no decay,
// dlib's sgd sets v = -lr * grad afresh on every update, so only the weights matter.
class InitialParams {
public:
    template <typename Details>
    void keep(const Details& details)
    {
        const tensor& p = details.get_layer_params();
        saved_.emplace_back();
        saved_.back().copy_size(p);
        std::memcpy(saved_.back().host(), p.host(), p.size() * sizeof(float));
    }

    // The blocks in the order they were kept.
    template <typename... Details>
    void restore(Details&... details)
    {
        size_t i = 0;
        // C++14 pack expansion: a braced list runs left to right
        int in_order[] = {(restore_one(details.get_layer_params(), saved_.at(i++)), 0)...};
        (void)in_order;
    }

private:
    static void restore_one(tensor& p, const resizable_tensor& saved)
    {
        std::memcpy(p.host(), saved.host(), p.size() * sizeof(float));
    }

    std::vector<resizable_tensor> saved_;
};

// --- layers with the scenarios' explicit padding ----------------------------------------
// con_ and cont_ pad by half the kernel unless told otherwise: always tell them.
template <long filters, long k, int stride, int pad, typename SUBNET>
using conv_layer = add_layer<con_<filters, k, k, stride, stride, pad, pad>, SUBNET>;
template <long filters, long k, int stride, int pad, typename SUBNET>
using tconv_layer = add_layer<cont_<filters, k, k, stride, stride, pad, pad>, SUBNET>;

// A network refuses to run on a tensor before its input layer has converted one batch
// (to_tensor sets the sample expansion factor): convert a one-sample dummy.
template <typename Net>
void init_input(Net& net, long nr, long nc)
{
    std::vector<matrix<float>> one(1, matrix<float>(nr, nc));
    one[0] = 0;
    resizable_tensor scratch;
    net.to_tensor(one.begin(), one.end(), scratch);
}

// Plain SGD: dlib's sgd() defaults to weight decay 0.0005 and momentum 0.9.
std::vector<sgd> plain_sgd(size_t layers) { return std::vector<sgd>(layers, sgd(0, 0)); }

// --- conv -----------------------------------------------------------------------------

class Conv {
public:
    Conv(const farray& x, const farray& w, const farray& b, int stride, int pad)
    {
        if (x.ndim() != 4 || w.ndim() != 4 || b.ndim() != 1) throw std::invalid_argument("conv: x, w NCHW/OIHW, b 1-D");
        data_ = make_tensor(x, x.shape(0), x.shape(1), x.shape(2), x.shape(3), "conv x");
        filters_ = make_tensor(w, w.shape(0), w.shape(1), w.shape(2), w.shape(3), "conv w");
        biases_ = make_tensor(b, 1, b.shape(0), 1, 1, "conv b");
        const long oh = 1 + (data_.nr() + 2 * pad - filters_.nr()) / stride;
        const long ow = 1 + (data_.nc() + 2 * pad - filters_.nc()) / stride;
        output_.set_size(data_.num_samples(), filters_.num_samples(), oh, ow);
        conv_.setup(data_, filters_, stride, stride, pad, pad);
    }

    void run()
    {
        py::gil_scoped_release nogil;
        conv_(false, static_cast<tensor&>(output_), data_, filters_, biases_);
    }

    farray y() const { return to_numpy(output_, {output_.num_samples(), output_.k(), output_.nr(), output_.nc()}); }

private:
    resizable_tensor data_, filters_, biases_, output_;
    tt::tensor_conv conv_;
};

// --- sigmoid --------------------------------------------------------------------------

class Sigmoid {
public:
    explicit Sigmoid(const farray& z) : z_(make_tensor(z, 1, z.size(), 1, 1, "z")) { y_.copy_size(z_); }

    void run()
    {
        py::gil_scoped_release nogil;
        tt::sigmoid(y_, z_);
    }

    farray y() const { return to_numpy(y_, {static_cast<py::ssize_t>(y_.size())}); }

private:
    resizable_tensor z_, y_;
};

// tt::sigmoid_gradient assigns only when computing in place over its gradient input,
// which would consume dy on the first call; into a separate buffer it adds. So dz is
// zeroed once here: the first (validated) call leaves exactly dz, and every later call
// does the same work, dlib's own kernel unchanged, adding a bounded multiple of it.
class SigmoidGrad {
public:
    SigmoidGrad(const farray& y, const farray& dy)
        : y_(make_tensor(y, 1, y.size(), 1, 1, "y")), dy_(make_tensor(dy, 1, dy.size(), 1, 1, "dy"))
    {
        dz_.copy_size(y_);
        dz_ = 0;
    }

    void run()
    {
        py::gil_scoped_release nogil;
        tt::sigmoid_gradient(dz_, y_, dy_);
    }

    farray dz() const { return to_numpy(dz_, {static_cast<py::ssize_t>(dz_.size())}); }

private:
    resizable_tensor y_, dy_, dz_;
};

// --- classifier -----------------------------------------------------------------------
// conv 32 5x5 p2 -> relu -> pool 2 -> conv 64 5x5 p2 -> relu -> pool 2 -> fc 1024 -> relu
// -> fc 10, softmax cross-entropy averaged over the batch (loss_multiclass_log).
using classifier_net = loss_multiclass_log<
    fc<10, relu<fc<1024,
    max_pool<2, 2, 2, 2, relu<conv_layer<64, 5, 1, 2,
    max_pool<2, 2, 2, 2, relu<conv_layer<32, 5, 1, 2,
    input<matrix<float>>>>>>>>>>>>;

class Classifier {
public:
    // weights: conv1_w, conv1_b, conv2_w, conv2_b, fc1_w, fc1_b, fc2_w, fc2_b (the scenario's order)
    Classifier(const std::vector<farray>& weights, const farray& x, const py::array_t<long long>& labels, float lr)
        : lr_(lr), solvers_(plain_sgd(classifier_net::num_computational_layers))
    {
        if (weights.size() != 8) throw std::invalid_argument("classifier: 8 weight tensors expected");
        x_ = make_tensor(x, x.shape(0), x.shape(1), x.shape(2), x.shape(3), "classifier x");
        for (py::ssize_t i = 0; i < labels.size(); ++i) labels_.push_back(static_cast<unsigned long>(labels.at(i)));
        // Parameters are allocated by the first forward pass: run one before loading them.
        init_input(net_, x_.nr(), x_.nc());
        net_.forward(x_);
        load(weights);
        for (const auto& w : weights) shapes_.push_back(Shape(w.shape(), w.shape() + w.ndim()));
        initial_.keep(layer<9>(net_).layer_details());
        initial_.keep(layer<6>(net_).layer_details());
        initial_.keep(layer<3>(net_).layer_details());
        initial_.keep(layer<1>(net_).layer_details());
    }

    void reset()
    {
        initial_.restore(layer<9>(net_).layer_details(), layer<6>(net_).layer_details(),
                         layer<3>(net_).layer_details(), layer<1>(net_).layer_details());
    }

    // The task layer (scenarios.task): other weights, other batches, logits of other images.
    void load(const std::vector<farray>& weights)
    {
        if (weights.size() != 8) throw std::invalid_argument("classifier: 8 weight tensors expected");
        load_params(layer<9>(net_).layer_details(), weights[0], weights[1], "conv1");
        load_params(layer<6>(net_).layer_details(), weights[2], weights[3], "conv2");
        load_params(layer<3>(net_).layer_details(), weights[4], weights[5], "fc1");
        load_params(layer<1>(net_).layer_details(), weights[6], weights[7], "fc2");
    }

    // The next step's batch: copied into the tensors train_step reads (the feeding, timed).
    void set_batch(const farray& x, const py::array_t<long long>& labels)
    {
        if (x.ndim() != 4 || x.shape(0) != labels.size())
            throw std::invalid_argument("classifier batch: x (N, C, H, W) and N labels expected");
        x_ = make_tensor(x, x.shape(0), x.shape(1), x.shape(2), x.shape(3), "classifier x");
        labels_.resize(labels.size());
        for (py::ssize_t i = 0; i < labels.size(); ++i) labels_[i] = static_cast<unsigned long>(labels.at(i));
    }

    farray predict(const farray& x)
    {
        if (x.ndim() != 4) throw std::invalid_argument("classifier predict: x (N, C, H, W) expected");
        resizable_tensor images = make_tensor(x, x.shape(0), x.shape(1), x.shape(2), x.shape(3), "classifier x");
        {
            py::gil_scoped_release nogil;
            net_.forward(images);
        }
        return logits();
    }

    void train_step()
    {
        py::gil_scoped_release nogil;
        loss_ = net_.compute_parameter_gradients(x_, labels_.begin());
        net_.update_parameters(solvers_, lr_);
    }

    void inference()
    {
        py::gil_scoped_release nogil;
        net_.forward(x_);
    }

    double loss() const { return loss_; }

    farray logits() const
    {
        const tensor& out = layer<1>(net_).get_output();
        return to_numpy(out, {out.num_samples(), out.k()});
    }

    std::vector<farray> weights() const
    {
        std::vector<farray> out;
        save_params(layer<9>(net_).layer_details(), shapes_[0], out);
        save_params(layer<6>(net_).layer_details(), shapes_[2], out);
        save_params(layer<3>(net_).layer_details(), shapes_[4], out);
        save_params(layer<1>(net_).layer_details(), shapes_[6], out);
        return out;
    }

private:
    float lr_;
    classifier_net net_;
    std::vector<sgd> solvers_;
    resizable_tensor x_;
    std::vector<unsigned long> labels_;
    std::vector<Shape> shapes_;
    InitialParams initial_;
    double loss_ = 0;
};

// --- gan ------------------------------------------------------------------------------
// Generator: z -> fc 6272 -> (128, 7, 7) -> relu -> tconv 64 4x4 s2 p1 -> relu
//            -> tconv 1 4x4 s2 p1 -> tanh.  No loss layer: it learns from the gradient
//            the discriminator hands back for its input.
using generator_net = htan<tconv_layer<1, 4, 2, 1, relu<tconv_layer<64, 4, 2, 1,
    relu<extract<0, 128, 7, 7, fc<6272, input<matrix<float>>>>>>>>>;
// Discriminator: conv 64 4x4 s2 p1 -> leaky relu 0.2 -> conv 128 4x4 s2 p1 -> leaky relu
//                -> fc 1, binary cross-entropy from the logit (loss_binary_log).
using discriminator_net = loss_binary_log<fc<1, leaky_relu<conv_layer<128, 4, 2, 1,
    leaky_relu<conv_layer<64, 4, 2, 1, input<matrix<float>>>>>>>>;

class Gan {
public:
    // weights: g_fc, g_ct1, g_ct2, d_c1, d_c2, d_fc, each (w, b): the scenario's order
    Gan(const std::vector<farray>& weights, const farray& z, const farray& real, float lr, float leak)
        : lr_(lr), g_solvers_(plain_sgd(generator_net::num_computational_layers)),
          d_solvers_(plain_sgd(discriminator_net::num_computational_layers))
    {
        if (weights.size() != 12) throw std::invalid_argument("gan: 12 weight tensors expected");
        const long n = z.shape(0);
        z_ = make_tensor(z, n, z.shape(1), 1, 1, "gan z");
        // The discriminator's update sees the real and the fake batch as one batch of 2n:
        // real in the first half (fixed), each step's fake copied into the second.
        both_.set_size(2 * n, 1, real.shape(2), real.shape(3));
        std::memcpy(both_.host(), real.data(), real.size() * sizeof(float));
        both_labels_.assign(n, 1.f);
        both_labels_.insert(both_labels_.end(), n, -1.f);
        real_labels_.assign(n, 1.f);
        layer<2>(d_).layer_details() = leaky_relu_(leak);
        layer<4>(d_).layer_details() = leaky_relu_(leak);
        // Parameters are allocated by the first forward pass: run one before loading them.
        init_input(g_, z_.k(), 1);
        init_input(d_, both_.nr(), both_.nc());
        g_.forward(z_);
        d_.forward(both_);
        load(weights);
        for (const auto& w : weights) shapes_.push_back(Shape(w.shape(), w.shape() + w.ndim()));
        initial_.keep(layer<6>(g_).layer_details());
        initial_.keep(layer<3>(g_).layer_details());
        initial_.keep(layer<1>(g_).layer_details());
        initial_.keep(layer<5>(d_).layer_details());
        initial_.keep(layer<3>(d_).layer_details());
        initial_.keep(layer<1>(d_).layer_details());
    }

    void reset()
    {
        initial_.restore(layer<6>(g_).layer_details(), layer<3>(g_).layer_details(), layer<1>(g_).layer_details(),
                         layer<5>(d_).layer_details(), layer<3>(d_).layer_details(), layer<1>(d_).layer_details());
    }

    void step()
    {
        py::gil_scoped_release nogil;
        const tensor& fake = g_.forward(z_);
        std::memcpy(both_.host() + fake.size(), fake.host(), fake.size() * sizeof(float));
        // loss_binary_log averages over the 2n samples, so its loss and gradient are half
        // of loss_d = mean over real + mean over fake: twice the learning rate makes the
        // same SGD update (no batch norm here, so samples do not interact). Adam divides
        // each gradient by its own running scale, so half the gradient is the same step.
        loss_d_ = 2 * d_.compute_parameter_gradients(both_, both_labels_.begin());
        if (adam_)
            d_.update_parameters(d_adam_, lr_);
        else
            d_.update_parameters(d_solvers_, 2 * lr_);
        // Non-saturating generator loss through the updated discriminator; dlib also
        // computes the discriminator's parameter gradients here, which are not applied.
        loss_g_ = d_.compute_parameter_gradients(fake, real_labels_.begin());
        g_.back_propagate_error(z_, d_.get_final_data_gradient());
        if (adam_)
            g_.update_parameters(g_adam_, lr_);
        else
            g_.update_parameters(g_solvers_, lr_);
    }

    // The task layer (scenarios.task): dlib's Adam solver instead of SGD (no weight decay;
    // dlib's eps is 1e-8, fixed), its moments started afresh at every load.
    void use_adam(float lr, float beta1, float beta2)
    {
        adam_ = true;
        lr_ = lr;
        beta1_ = beta1;
        beta2_ = beta2;
        fresh_adam();
    }

    void load(const std::vector<farray>& weights)
    {
        if (weights.size() != 12) throw std::invalid_argument("gan: 12 weight tensors expected");
        load_params(layer<6>(g_).layer_details(), weights[0], weights[1], "g_fc");
        load_params(layer<3>(g_).layer_details(), weights[2], weights[3], "g_ct1");
        load_params(layer<1>(g_).layer_details(), weights[4], weights[5], "g_ct2");
        load_params(layer<5>(d_).layer_details(), weights[6], weights[7], "d_c1");
        load_params(layer<3>(d_).layer_details(), weights[8], weights[9], "d_c2");
        load_params(layer<1>(d_).layer_details(), weights[10], weights[11], "d_fc");
        if (adam_) fresh_adam();
    }

    // The next step's noise and real images, copied into the tensors step() reads (the
    // feeding, timed); the batch is the one the Gan was made with.
    void set_batch(const farray& z, const farray& real)
    {
        fill(z_, z, "gan z");
        if (static_cast<size_t>(real.size()) != both_.size() / 2)
            throw std::invalid_argument("gan batch: as many real images as at construction expected");
        std::memcpy(both_.host(), real.data(), real.size() * sizeof(float));
    }

    farray generate(const farray& z)
    {
        if (z.ndim() != 2) throw std::invalid_argument("gan generate: z (N, noise) expected");
        resizable_tensor noise = make_tensor(z, z.shape(0), z.shape(1), 1, 1, "gan z");
        {
            py::gil_scoped_release nogil;
            g_.forward(noise);
        }
        const tensor& images = g_.get_output();
        return to_numpy(images, {images.num_samples(), images.k(), images.nr(), images.nc()});
    }

    double loss_d() const { return loss_d_; }
    double loss_g() const { return loss_g_; }

    std::vector<farray> weights() const
    {
        std::vector<farray> out;
        save_params(layer<6>(g_).layer_details(), shapes_[0], out);
        save_params(layer<3>(g_).layer_details(), shapes_[2], out);
        save_params(layer<1>(g_).layer_details(), shapes_[4], out);
        save_params(layer<5>(d_).layer_details(), shapes_[6], out);
        save_params(layer<3>(d_).layer_details(), shapes_[8], out);
        save_params(layer<1>(d_).layer_details(), shapes_[10], out);
        return out;
    }

private:
    void fresh_adam()
    {
        g_adam_.assign(generator_net::num_computational_layers, adam(0, beta1_, beta2_));
        d_adam_.assign(discriminator_net::num_computational_layers, adam(0, beta1_, beta2_));
    }

    float lr_;
    bool adam_ = false;
    float beta1_ = 0, beta2_ = 0;
    generator_net g_;
    discriminator_net d_;
    std::vector<sgd> g_solvers_, d_solvers_;
    std::vector<adam> g_adam_, d_adam_;
    resizable_tensor z_, both_;
    std::vector<float> both_labels_, real_labels_;
    std::vector<Shape> shapes_;
    InitialParams initial_;
    double loss_d_ = 0, loss_g_ = 0;
};

// --- the BLAS dlib calls ----------------------------------------------------------------

std::string real_path(const char* path)
{
    char buf[PATH_MAX];
    return realpath(path, buf) ? std::string(buf) : std::string(path);
}

#ifdef DLIB_USE_BLAS
// The object that provides cblas_sgemm (as dlib declares it): one libblas.so.3 per
// process, so the same one serves every BLAS call dlib makes.
bool blas_object(Dl_info& where)
{
    return dladdr(reinterpret_cast<void*>(&dlib::blas_bindings::cblas_sgemm), &where) && where.dli_fname;
}
#endif

// Which library serves dlib's BLAS calls, and what it says about itself.
py::dict blas_info()
{
    py::dict info;
#ifdef DLIB_USE_BLAS
    Dl_info where;
    if (!blas_object(where)) {
        info["library"] = py::none();
        return info;
    }
    info["library"] = real_path(where.dli_fname);
    void* handle = dlopen(where.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (handle) {
        // dlsym through a handle also searches its dependencies (libopenblas.so.0)
        if (auto config = reinterpret_cast<const char* (*)()>(dlsym(handle, "openblas_get_config")))
            info["openblas_config"] = std::string(config());
        if (auto core = reinterpret_cast<const char* (*)()>(dlsym(handle, "openblas_get_corename")))
            info["openblas_core"] = std::string(core());
        if (auto threads = reinterpret_cast<int (*)()>(dlsym(handle, "openblas_get_num_threads")))
            info["threads"] = threads();
        dlclose(handle);
    }
#else
    info["library"] = py::none();
#endif
    return info;
}

// The BLAS thread count: OpenBLAS takes it at run time; the reference BLAS has one thread.
bool set_blas_threads(int n)
{
#ifdef DLIB_USE_BLAS
    Dl_info where;
    if (!blas_object(where)) return false;
    void* handle = dlopen(where.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!handle) return false;
    auto set = reinterpret_cast<void (*)(int)>(dlsym(handle, "openblas_set_num_threads"));
    if (set) set(n);
    dlclose(handle);
    return set != nullptr;
#else
    (void)n;
    return false;
#endif
}

// dlib launches CUDA work asynchronously; the harness waits for it inside the timed
// region. (Debian's dlib is CPU-only: this is a no-op there.)
void synchronize()
{
#ifdef DLIB_USE_CUDA
    py::gil_scoped_release nogil;
    cudaDeviceSynchronize();
#endif
}

}  // namespace

PYBIND11_MODULE(_dlib_bridge, m)
{
    m.doc() = "dlbench's bridge to dlib's DNN toolkit";
    m.attr("version") = std::to_string(DLIB_MAJOR_VERSION) + "." + std::to_string(DLIB_MINOR_VERSION) + "." +
                        std::to_string(DLIB_PATCH_VERSION);
#ifdef DLIB_USE_BLAS
    m.attr("uses_blas") = true;
#else
    m.attr("uses_blas") = false;
#endif
#ifdef DLIB_USE_CUDA
    m.attr("cuda_build") = true;
#else
    m.attr("cuda_build") = false;
#endif
#ifdef DLBENCH_BUILD_FLAGS
    m.attr("build_flags") = DLBENCH_BUILD_FLAGS;
#else
    m.attr("build_flags") = "";
#endif
    m.def("blas_info", &blas_info, "the library serving dlib's BLAS calls and what it reports");
    m.def("synchronize", &synchronize, "wait for queued device work (CUDA builds of dlib)");
    m.def("set_blas_threads", &set_blas_threads, "set the BLAS thread count; False where the BLAS has no such control");

    py::class_<Conv>(m, "Conv")
        .def(py::init<const farray&, const farray&, const farray&, int, int>())
        .def("run", &Conv::run)
        .def("y", &Conv::y);
    py::class_<Sigmoid>(m, "Sigmoid").def(py::init<const farray&>()).def("run", &Sigmoid::run).def("y", &Sigmoid::y);
    py::class_<SigmoidGrad>(m, "SigmoidGrad")
        .def(py::init<const farray&, const farray&>())
        .def("run", &SigmoidGrad::run)
        .def("dz", &SigmoidGrad::dz);
    py::class_<Classifier>(m, "Classifier")
        .def(py::init<const std::vector<farray>&, const farray&, const py::array_t<long long>&, float>())
        .def("train_step", &Classifier::train_step)
        .def("reset", &Classifier::reset)
        .def("inference", &Classifier::inference)
        .def("loss", &Classifier::loss)
        .def("logits", &Classifier::logits)
        .def("load", &Classifier::load)
        .def("set_batch", &Classifier::set_batch)
        .def("predict", &Classifier::predict)
        .def("weights", &Classifier::weights);
    py::class_<Gan>(m, "Gan")
        .def(py::init<const std::vector<farray>&, const farray&, const farray&, float, float>())
        .def("step", &Gan::step)
        .def("reset", &Gan::reset)
        .def("loss_d", &Gan::loss_d)
        .def("loss_g", &Gan::loss_g)
        .def("use_adam", &Gan::use_adam)
        .def("load", &Gan::load)
        .def("set_batch", &Gan::set_batch)
        .def("generate", &Gan::generate)
        .def("weights", &Gan::weights);
}
