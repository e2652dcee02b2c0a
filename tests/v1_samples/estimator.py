# An estimator-era program (v1 "how-to-use-estimator" style) with the cluster idiom.
from azureml.core import Experiment, Workspace
from azureml.core.compute import AmlCompute, ComputeTarget
from azureml.core.compute_target import ComputeTargetException
from azureml.train.estimator import Estimator

ws = Workspace.from_config()
cluster_name = "cpu-cluster"
try:
    compute_target = ComputeTarget(workspace=ws, name=cluster_name)
    print("Found existing compute target")
except ComputeTargetException:
    compute_config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=4)
    compute_target = ComputeTarget.create(ws, cluster_name, compute_config)
compute_target.wait_for_completion(show_output=True, min_node_count=None, timeout_in_minutes=20)

est = Estimator(source_directory="./scripts", compute_target=compute_target, entry_script="train.py",
                script_params={"--epochs": 2, "--learning-rate": 0.5}, user_managed=True)
run = Experiment(ws, "estimator").submit(est)
run.wait_for_completion(show_output=True)
assert run.get_status() == "Completed"
assert run.get_metrics()["final_loss"] == 0.25
