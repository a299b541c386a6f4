namespace Cratus.Benchmark;

/// <summary>How long calls are made before measuring starts, and how long they are measured.</summary>
internal sealed record Window(int Seconds, int Warmup);
