// arginator-bench-hdf5-read FILE.h5: how fast libhdf5 reads a per-protein file (one dataset per
// protein) with each of the read options issue 29 asked about, two runs each: datasets opened by
// name after listing the names (what common/hdf5_embeddings.cc does), opened by index
// (H5Oopen_by_idx), a 64 MB metadata cache, the latest library format bounds, and open + read
// alone (no type, shape or attribute look-ups).
#include <hdf5.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

herr_t Collect(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FILE.h5 (one dataset of floats per protein)\n", argv[0]);
    return 2;
  }
  const char* kOptions[] = {"by name (ours)", "by index", "metadata cache 64 MB",
                            "libver bounds latest", "open + read only"};
  std::vector<float> buffer(1 << 20);
  std::printf("%-22s %8s %8s %12s\n", "option", "list s", "read s", "datasets/s");
  for (int option = 0; option < 5; ++option) {
    for (int run = 0; run < 2; ++run) {
      const double start = Seconds();
      const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
      if (option == 2) {
        H5AC_cache_config_t config;
        config.version = H5AC__CURR_CACHE_CONFIG_VERSION;
        H5Pget_mdc_config(fapl, &config);
        config.set_initial_size = true;
        config.initial_size = 64 << 20;
        config.min_size = 32 << 20;
        config.max_size = 128 << 20;
        H5Pset_mdc_config(fapl, &config);
      }
      if (option == 3) H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
      const hid_t file = H5Fopen(argv[1], H5F_ACC_RDONLY, fapl);
      if (file < 0) {
        std::fprintf(stderr, "%s: cannot open\n", argv[1]);
        return 1;
      }
      std::vector<std::string> names;
      hsize_t index = 0;
      H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, &index, Collect, &names);
      const double listed = Seconds();
      for (size_t i = 0; i < names.size(); ++i) {
        const hid_t dataset =
            option == 1 ? H5Oopen_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT)
                        : H5Dopen2(file, names[i].c_str(), H5P_DEFAULT);
        if (dataset < 0) continue;
        if (option != 4) {
          H5Tclose(H5Dget_type(dataset));
          H5Sclose(H5Dget_space(dataset));
          (void)H5Aexists(dataset, "original_id");
        }
        H5Dread(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data());
        H5Dclose(dataset);
      }
      H5Fclose(file);
      H5Pclose(fapl);
      const double end = Seconds();
      std::printf("%-22s %8.3f %8.3f %12.0f\n", kOptions[option], listed - start, end - listed,
                  static_cast<double>(names.size()) / (end - start));
    }
  }
  return 0;
}
