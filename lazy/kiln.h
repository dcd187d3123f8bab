#pragma once
// kiln: a lazy-tensor tracing runtime. Include this one header.
//
//   #include "lazy/kiln.h"
//   auto w = kiln::randn({4, 3}, gen);
//   auto y = kiln::softmax(kiln::matmul(x, w), -1);
//   kiln::mark_step();                       // compile once, run; later steps hit the cache
//   std::cout << kiln::metrics::report();
#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/device.h"
#include "lazy/generator.h"
#include "lazy/graph_executor.h"
#include "lazy/ops.h"
#include "lazy/scalar.h"
#include "lazy/tensor.h"
#include "util/error.h"
#include "util/metrics.h"
