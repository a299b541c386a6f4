namespace Cratus.Benchmark;

internal static class Repository
{
    /// <summary>The folder holding CratusRandomization.sln, found upwards from the benchmark's own binaries.</summary>
    public static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CratusRandomization.sln"))) return dir.FullName;
        throw new InvalidOperationException("run the benchmark from inside the repository");
    }
}
