// Supabase's region codes, their names and the smart group each belongs to: the regions Supabase's clients
// (CLI, MCP server) accept, which every Loam install offers (db/src/migrate.ts).
export const SUPABASE_REGIONS: Record<string, [name: string, group: 'americas' | 'emea' | 'apac']> = {
  'us-east-1': ['East US (North Virginia)', 'americas'], 'us-east-2': ['East US (Ohio)', 'americas'],
  'us-west-1': ['West US (North California)', 'americas'], 'us-west-2': ['West US (Oregon)', 'americas'],
  'ca-central-1': ['Canada (Central)', 'americas'], 'sa-east-1': ['South America (São Paulo)', 'americas'],
  'eu-west-1': ['West EU (Ireland)', 'emea'], 'eu-west-2': ['West Europe (London)', 'emea'],
  'eu-west-3': ['West EU (Paris)', 'emea'], 'eu-north-1': ['North EU (Stockholm)', 'emea'],
  'eu-central-1': ['Central EU (Frankfurt)', 'emea'], 'eu-central-2': ['Central Europe (Zurich)', 'emea'],
  'ap-southeast-1': ['Southeast Asia (Singapore)', 'apac'], 'ap-northeast-1': ['Northeast Asia (Tokyo)', 'apac'],
  'ap-northeast-2': ['Northeast Asia (Seoul)', 'apac'], 'ap-east-1': ['East Asia (Hong Kong)', 'apac'],
  'ap-southeast-2': ['Oceania (Sydney)', 'apac'], 'ap-south-1': ['South Asia (Mumbai)', 'apac'],
};
