namespace Cratus.Benchmark;

/// <summary>A folder with a trial definition, and the settings every server on it runs with.</summary>
internal sealed record BenchDeployment(string Folder, string SigningKey, Dictionary<string, string> Settings);
