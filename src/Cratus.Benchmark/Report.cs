using System.Text;

namespace Cratus.Benchmark;

/// <summary>The results as Markdown: every line is shown as it is made and written to the output file at the end.</summary>
internal sealed class Report
{
    private readonly StringBuilder _text = new();

    public void Line(string text = "")
    {
        Console.WriteLine(text);
        _text.AppendLine(text);
    }

    public async Task WriteAsync(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, _text.ToString());
        Console.WriteLine($"written to {path}");
    }
}
