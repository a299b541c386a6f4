namespace Cratus.Benchmark;

/// <summary>A folder with a trial definition, the settings every server on it runs with, the sites of its trial, and
/// its store (with the connection string of its own database on PostgreSQL, for the checks made afterwards).</summary>
internal sealed record BenchDeployment(string Folder, string SigningKey, Dictionary<string, string> Settings, string[] Sites, BenchStore Store, string? Database)
{
    /// <summary>Removes the folder and the deployment's database (PostgreSQL), once its servers are gone.</summary>
    public async Task RemoveAsync()
    {
        BenchServer.DeleteFolder(Folder);
        await Store.DropAsync(Database);
    }
}
