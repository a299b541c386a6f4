using Cratus.Cli;

return await CratusCli.RunAsync(args, Console.Out, Console.Error);
