# Distributed PyTorch (v1 "distributed-pytorch-with-distributeddataparallel" style).
from azureml.core import Environment, Experiment, ScriptRunConfig, Workspace
from azureml.core.compute import AmlCompute, ComputeTarget
from azureml.core.compute_target import ComputeTargetException
from azureml.core.runconfig import PyTorchConfiguration

ws = Workspace.from_config()
cluster_name = "gpu-cluster"
try:
    compute_target = ComputeTarget(workspace=ws, name=cluster_name)
except ComputeTargetException:
    compute_config = AmlCompute.provisioning_configuration(vm_size="STANDARD_NC6", max_nodes=4)
    compute_target = ComputeTarget.create(ws, cluster_name, compute_config)
    compute_target.wait_for_completion(show_output=True)

pytorch_env = Environment("pytorch-user-managed")
pytorch_env.python.user_managed_dependencies = True  # torch is installed here

distr_config = PyTorchConfiguration(communication_backend="Gloo", process_count=2, node_count=1)
src = ScriptRunConfig(source_directory="./scripts", script="pytorch_ddp.py", compute_target=compute_target,
                      environment=pytorch_env, distributed_job_config=distr_config)
run = Experiment(ws, "pytorch-distr").submit(src)
run.wait_for_completion(show_output=True)
assert run.get_status() == "Completed", run.get_details()
metrics = run.get_metrics()
assert metrics["rank_sum"] == 1.0 and metrics["world_size"] == 2, metrics
