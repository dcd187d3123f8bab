#pragma once
// kiln: a lazy-tensor tracing runtime. Include this one header.
//
//   #include "lazy/kiln.h"
//   auto w = kiln::randn({4, 3}, gen);
//   auto y = kiln::softmax(kiln::matmul(x, w), -1);
//   kiln::mark_step();                       // compile once, run; later steps hit the cache
//   std::cout << kiln::metrics::report();
#include "lazy/bucketing.h"
#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/device.h"
#include "lazy/generator.h"
#include "lazy/grad_mode.h"
#include "lazy/graph_executor.h"
#include "lazy/nn_attention.h"
#include "lazy/nn_embedding.h"
#include "lazy/nn_functional.h"
#include "lazy/nn_gelu.h"
#include "lazy/nn_init.h"
#include "lazy/nn_layer_norm.h"
#include "lazy/nn_linear.h"
#include "lazy/nn_loss.h"
#include "lazy/nn_mlp.h"
#include "lazy/nn_module.h"
#include "lazy/nn_module_list.h"
#include "lazy/nn_sequential.h"
#include "lazy/nn_transformer.h"
#include "lazy/ops.h"
#include "lazy/optim_adamw.h"
#include "lazy/optim_optimizer.h"
#include "lazy/optim_param_groups.h"
#include "lazy/optim_schedule.h"
#include "lazy/optim_sgd.h"
#include "lazy/precompile.h"
#include "lazy/scalar.h"
#include "lazy/tensor.h"
#include "util/error.h"
#include "util/metrics.h"
